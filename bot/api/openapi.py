"""The OpenAPI 3.1 document, generated from the route table and the pydantic schemas.

Nothing here is written by hand per route: a route's path parameters, query, body, success
answer, the problems it may answer and whether it needs a token all come from `ROUTES`, so
the document cannot drift from what is served (tests/e2e/test_api_routes.py checks both ways
and validates the document with openapi-spec-validator).
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.api import problems as p
from bot.api import schemas as s
from bot.api.routes import PATH_PARAMS, ROUTES, Route, path_params
from bot.services.policy import RULES, Role

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = [s.Problem]
    for route in ROUTES:
        for model in (route.out, route.body):
            if model is not None and model not in seen:
                seen.append(model)
    return seen


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}}


def _responses(route: Route) -> dict[str, Any]:
    if route.out is not None:
        content = {route.media: {"schema": {"$ref": REF.format(model=route.out.__name__)}}}
    else:
        content = {route.media: {"schema": {"type": "string", "contentMediaType": route.media}}}
    out: dict[str, Any] = {str(route.ok): {"description": route.summary, "content": content}}
    if route.ok == 202:
        out["202"]["headers"] = {"Location": {"description": "the operation or the approval",
                                              "schema": {"type": "string"}}}
    out["400"] = _problem(f"{p.INVALID.title}: `errors` names each invalid field")
    out["401"] = _problem(p.UNAUTHENTICATED.title)
    out["403"] = _problem("not allowed (role, ownership) or over the quota")
    if path_params(route.path) or route.method != "GET":
        out["404"] = _problem(p.NOT_FOUND.title + ", or not yours")
    if route.method != "GET":
        out["409"] = _problem(p.CONFLICT.title + " (already-pending: asked already)")
        out["422"] = _problem(p.REFUSED.title)
    if route.body is not None:
        out["413"] = _problem(p.TOO_LARGE.title)
        out["415"] = _problem(p.MEDIA.title)
    out["429"] = {**_problem(p.RATE.title), "headers": {"Retry-After": {
        "description": "seconds until the token may ask again", "schema": {"type": "integer"}}}}
    out["502"] = _problem(p.PROXMOX.title)
    return out


def _parameters(route: Route) -> list[dict]:
    params = []
    for name in path_params(route.path):
        param = PATH_PARAMS[name]
        params.append({"name": name, "in": "path", "required": True,
                       "description": param.description, "schema": param.schema,
                       "example": param.example})
    query = route.query.model_json_schema(ref_template=REF)
    required = set(query.get("required", ()))
    for name, schema in query.get("properties", {}).items():
        schema = dict(schema)
        description = schema.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _operation(route: Route) -> dict[str, Any]:
    description = route.summary
    if route.command:
        description += f". The chat's /{route.command}."
    if route.use_case:
        rule = RULES[route.use_case]
        who = "admins" if rule.role is Role.ADMIN else "users (their own objects; admins: any)"
        description += (f" Policy: `{route.use_case}`, for {who}; approval: "
                        f"{rule.approve.value}.")
    op: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.handler.__name__}".replace("-", "_"),
        "summary": route.summary, "description": description, "tags": [route.tag],
        "parameters": _parameters(route), "responses": _responses(route)}
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=route.body.__name__)}}}}
    return op


def _unique_ids(paths: dict) -> None:
    """operationIds must be unique: a handler serving two routes gets its path in its id."""
    seen: dict[str, int] = {}
    for item in paths.values():
        for op in item.values():
            seen[op["operationId"]] = seen.get(op["operationId"], 0) + 1
    for path, item in paths.items():
        for op in item.values():
            if seen[op["operationId"]] > 1:
                tail = path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
                op["operationId"] = f"{op['operationId']}_{tail}"


@functools.cache
def openapi_document(base: str = "/api/v1") -> dict[str, Any]:
    _, top = models_json_schema([(m, "validation" if m in _bodies() else "serialization")
                                 for m in _models()], ref_template=REF)
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(base + route.path, {})[route.method.lower()] = _operation(route)
    _unique_ids(paths)
    paths[base + "/openapi.json"] = {"get": {
        "operationId": "get_openapi", "summary": "this document", "tags": ["meta"],
        "security": [], "responses": {"200": {"description": "the OpenAPI 3.1 document",
                                              "content": {"application/json": {
                                                  "schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stratus", "version": "1",
                 "description": "Self-service containers on Proxmox VE: the same use cases "
                                "as the chat, for programs. Tokens come from /api_token in "
                                "the chat; errors are RFC 9457 problem details."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from /api_token"}},
        },
        "security": [{"bearer": []}],
    }


@functools.cache
def _bodies() -> frozenset[type[BaseModel]]:
    return frozenset(r.body for r in ROUTES if r.body is not None)
