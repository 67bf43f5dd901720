"""`make lab` (issue 12, point 6): the whole lab played on the embedded default, every step's
outcome checked, and the report written: transcript, connectivity table, backup and twin,
users/quota/approval, the elasticity chart beside it."""

from __future__ import annotations

import asyncio
import re
import struct

import pytest

from bot.lab import ENDPOINTS, run_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab-report")
    result = asyncio.run(asyncio.wait_for(run_lab(out), 600))
    return result, result.report.read_text(), result.chart.read_bytes()


def test_every_step_of_the_lab_succeeds(lab):
    result, _, _ = lab
    failed = [f"{c.step}: {c.what}" for c in result.checks if not c.ok]
    assert failed == []
    steps = {c.step.split(":")[0] for c in result.checks}
    assert steps == {"Steps 1-2", "Step 3", "Step 4", "Step 5", "Step 6"}
    assert len(result.checks) >= 35


def test_the_connectivity_table_holds_every_lab_pair_reachable(lab):
    result, report, _ = lab
    pairs = {(a, b) for a in ENDPOINTS for b in ENDPOINTS if a != b}
    assert {(a, b) for a, b, _, _ in result.connectivity} == pairs
    for a, b in pairs:
        assert re.search(rf"^\| {a} \| {b} \| ✅ \| .+ \|$", report, re.M), (a, b)
    assert "| c1 | c2 | ✅ | c1 (vmid 100) 10.0.2.100/24 -> its gateway 10.0.2.15" in report
    assert "| c2 | pc | ✅ |" in report and "masquerade of vmbr1" in report


def test_the_report_holds_each_steps_transcript_and_results(lab):
    _, report, _ = lab
    for title in ("## Steps 1-2: a Proxmox server in a VM", "## Step 3: containers",
                  "## Step 4: backup and restore", "## Step 5: the IaaS service",
                  "## Step 6: elasticity"):
        assert title in report
    assert report.count("```text") == 5
    assert "✅ the PC reaches pve1's API through the NAT port forward" in report  # /doctor
    assert "| cores | 1 | 1 |" in report and "| hostname | c1 | c1-twin |" in report
    assert "🗓 Schedule stratus-" in report and "at '02:00'" in report
    assert "✅ Carol (1003) is now a user." in report
    assert "Waiting for an admin's approval (3 cores > 2)" in report
    assert "✅ Approved by Ada (1001)" in report
    assert "Over your quota:" in report
    assert "Elasticity: a scaling group" in report  # /help elasticity
    assert re.search(r"- added web-\d+ on pve\d", report)
    assert re.search(r"- removed web-\d+ on pve\d", report)
    assert "![load, target and replicas over the day](elasticity.png)" in report
    assert "| 11:00 | 270 | " in report and "| 22:05 | 459 | 6 |" in report


def test_the_chart_is_the_png_the_chat_sent(lab):
    result, report, png = lab
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert f"[photo {width}x{height}, {len(png)} bytes, saved to" in report
