"""Settings.load: every problem named, all of them at once, env over file, secrets never shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.services.quota import ApprovalThresholds, Size, approval_reasons
from bot.settings import Settings, SettingsError
from bot.store import Quota

FINGERPRINT = ":".join(["ab"] * 32)
TOKEN = "123456:telegram-TOKEN-value"
TOKEN_SECRET = "4f1c9a54-secret-uuid"
PASSWORD = "hunter2-password"

MINIMAL = {
    "STRATUS_TELEGRAM_TOKEN": TOKEN,
    "STRATUS_PROXMOX_HOST": "pve.example.com",
    "STRATUS_PROXMOX_TOKEN_ID": "root@pam!stratus",
    "STRATUS_PROXMOX_TOKEN_SECRET": TOKEN_SECRET,
    "STRATUS_ADMIN_IDS": "1001",
    "STRATUS_APPROVAL_CHAT_ID": "-1001234",
}


def problems_of(environ, config_file=None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ, config_file)
    error = caught.value
    lines = str(error).splitlines()
    # str lists every problem, one per line, after a header line
    assert lines[1:] == [f"- {problem}" for problem in error.problems]
    assert str(len(error.problems)) in lines[0]
    return error.problems


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "stratus.toml"
    path.write_text(text)
    return str(path)


def test_minimal_environment_gives_defaults():
    s = Settings.load(MINIMAL)
    assert s.telegram_token == TOKEN
    assert s.proxmox_host == "pve.example.com"
    assert s.proxmox_port == 8006
    assert s.proxmox_tls == "verify"
    assert s.uses_token
    assert s.admin_ids == (1001,)
    assert s.approval_chat_id == -1001234
    assert s.notify_chat_id is None
    assert s.data_dir == Path("data")
    assert s.default_quota == Quota(containers=3, cores=4, memory_mb=4096, disk_gb=32)
    assert s.approval_thresholds == ApprovalThresholds(cores=2, memory_mb=2048, disk_gb=16)
    assert s.approval_ttl_s == 3600
    assert s.default_template is None
    assert s.default_bridge == "vmbr0"
    assert s.telegram_base_url is None


def test_everything_from_environment(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("cert")
    env = {
        **MINIMAL,
        "STRATUS_TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
        "STRATUS_PROXMOX_PORT": "8443",
        "STRATUS_PROXMOX_TLS": "Fingerprint",
        "STRATUS_PROXMOX_FINGERPRINT": FINGERPRINT,
        "STRATUS_PROXMOX_CA_FILE": str(ca),
        "STRATUS_ADMIN_IDS": "1001, 1002 1001",
        "STRATUS_NOTIFY_CHAT_ID": "-42",
        "STRATUS_DATA_DIR": "/var/lib/stratus",
        "STRATUS_DEFAULT_QUOTA_CONTAINERS": "5",
        "STRATUS_DEFAULT_QUOTA_CORES": "8",
        "STRATUS_DEFAULT_QUOTA_MEMORY_MB": "8G",
        "STRATUS_DEFAULT_QUOTA_DISK_GB": "64",
        "STRATUS_APPROVAL_CORES_ABOVE": "4",
        "STRATUS_APPROVAL_MEMORY_MB_ABOVE": "4096",
        "STRATUS_APPROVAL_DISK_GB_ABOVE": "32G",
        "STRATUS_APPROVAL_TTL_S": "600",
        "STRATUS_DEFAULT_TEMPLATE": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        "STRATUS_DEFAULT_BRIDGE": "vmbr1",
        "STRATUS_DEMO_SOMETHING": "ignored: not a setting of the bot",
        "UNRELATED": "x",
    }
    s = Settings.load(env)
    assert s.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert s.proxmox_port == 8443
    assert s.proxmox_tls == "fingerprint"
    assert s.proxmox_fingerprint == FINGERPRINT.upper()
    assert s.proxmox_ca_file == str(ca)
    assert s.admin_ids == (1001, 1002)
    assert s.notify_chat_id == -42
    assert s.data_dir == Path("/var/lib/stratus")
    assert s.default_quota == Quota(5, 8, 8192, 64)
    assert s.approval_thresholds == ApprovalThresholds(4, 4096, 32)
    assert s.approval_ttl_s == 600
    assert s.default_template == "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    assert s.default_bridge == "vmbr1"


def test_user_and_password_instead_of_token():
    env = {k: v for k, v in MINIMAL.items() if "TOKEN_" not in k}
    s = Settings.load(
        {**env, "STRATUS_PROXMOX_USER": "root@pam", "STRATUS_PROXMOX_PASSWORD": PASSWORD}
    )
    assert (s.proxmox_user, s.proxmox_password, s.proxmox_token_id) == ("root@pam", PASSWORD, None)
    assert not s.uses_token


def test_config_file_with_sections(tmp_path):
    path = write_config(
        tmp_path,
        f"""
admin_ids = [7, 8]
notify_chat_id = -5
data_dir = "state"

[telegram]
token = "{TOKEN}"

[proxmox]
host = "10.0.0.2"
port = 8006
user = "stratus@pve"
password = "{PASSWORD}"
tls = "insecure"

[approval]
chat_id = -100
ttl_s = 120
cores_above = 1

[default_quota]
memory_mb = 2048

[default]
bridge = "natnet1"
template = "debian-12"
""",
    )
    s = Settings.load({}, path)
    assert s.admin_ids == (7, 8)
    assert s.telegram_token == TOKEN
    assert (s.proxmox_host, s.proxmox_user, s.proxmox_tls) == (
        "10.0.0.2",
        "stratus@pve",
        "insecure",
    )
    assert (s.approval_chat_id, s.approval_ttl_s, s.approval_thresholds.cores) == (-100, 120, 1)
    assert s.default_quota == Quota(3, 4, 2048, 32)
    assert (s.default_bridge, s.default_template) == ("natnet1", "debian-12")
    assert s.data_dir == Path("state")
    # STRATUS_CONFIG names the file when no argument does
    assert Settings.load({"STRATUS_CONFIG": path}) == s


def test_environment_overrides_file(tmp_path):
    path = write_config(
        tmp_path,
        f"""
admin_ids = [7]
[telegram]
token = "{TOKEN}"
[proxmox]
host = "from-file"
port = 1111
token_id = "root@pam!file"
token_secret = "{TOKEN_SECRET}"
[approval]
chat_id = -1
""",
    )
    s = Settings.load({"STRATUS_PROXMOX_HOST": "from-env", "STRATUS_ADMIN_IDS": "9"}, path)
    assert s.proxmox_host == "from-env"
    assert s.admin_ids == (9,)
    assert s.proxmox_port == 1111  # not overridden: the file's value stays
    assert s.proxmox_token_id == "root@pam!file"
    # an empty variable does not erase the file's value
    assert Settings.load({"STRATUS_PROXMOX_HOST": ""}, path).proxmox_host == "from-file"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"STRATUS_TELEGRAM_TOKEN": None}, "telegram_token is missing"),
        (
            {"STRATUS_TELEGRAM_TOKEN": "12:ab cd"},
            "telegram_token (STRATUS_TELEGRAM_TOKEN): contains whitespace",
        ),
        ({"STRATUS_TELEGRAM_BASE_URL": "ftp://x"}, "is not an http(s):// URL"),
        ({"STRATUS_PROXMOX_HOST": None}, "proxmox_host is missing"),
        ({"STRATUS_PROXMOX_HOST": "https://pve:8006"}, "without https:// or a port"),
        (
            {"STRATUS_PROXMOX_PORT": "abc"},
            "proxmox_port (STRATUS_PROXMOX_PORT): 'abc' is not a whole number",
        ),
        (
            {"STRATUS_PROXMOX_PORT": "70000"},
            "proxmox_port (STRATUS_PROXMOX_PORT): must be from 1 to 65535",
        ),
        ({"STRATUS_PROXMOX_PORT": "0"}, "must be from 1 to 65535, not 0"),
        (
            {"STRATUS_PROXMOX_TLS": "maybe"},
            "unknown TLS mode 'maybe'; use one of verify, fingerprint, insecure",
        ),
        (
            {"STRATUS_PROXMOX_TLS": "fingerprint"},
            "proxmox_fingerprint is missing (required when proxmox_tls is fingerprint)",
        ),
        ({"STRATUS_PROXMOX_FINGERPRINT": "AB:CD"}, "32 hex bytes separated by colons"),
        (
            {"STRATUS_PROXMOX_FINGERPRINT": ":".join(["zz"] * 32)},
            "32 hex bytes separated by colons",
        ),
        ({"STRATUS_PROXMOX_CA_FILE": "/nonexistent/ca.pem"}, "/nonexistent/ca.pem is not a file"),
        (
            {"STRATUS_PROXMOX_TOKEN_ID": None},
            "proxmox_token_id is missing (proxmox_token_secret is set)",
        ),
        (
            {"STRATUS_PROXMOX_TOKEN_SECRET": None},
            "proxmox_token_secret is missing (proxmox_token_id is set)",
        ),
        ({"STRATUS_PROXMOX_TOKEN_ID": "root@pam"}, "is not a token id like root@pam!stratus"),
        (
            {"STRATUS_PROXMOX_TOKEN_ID": None, "STRATUS_PROXMOX_TOKEN_SECRET": None},
            "Proxmox credentials are missing",
        ),
        (
            {
                "STRATUS_PROXMOX_TOKEN_ID": None,
                "STRATUS_PROXMOX_TOKEN_SECRET": None,
                "STRATUS_PROXMOX_USER": "root@pam",
            },
            "proxmox_password is missing (proxmox_user is set)",
        ),
        (
            {
                "STRATUS_PROXMOX_TOKEN_ID": None,
                "STRATUS_PROXMOX_TOKEN_SECRET": None,
                "STRATUS_PROXMOX_USER": "root",
                "STRATUS_PROXMOX_PASSWORD": "x",
            },
            "'root' is not a user like root@pam",
        ),
        ({"STRATUS_ADMIN_IDS": None}, "admin_ids is missing"),
        (
            {"STRATUS_ADMIN_IDS": "1001,bob"},
            "admin_ids (STRATUS_ADMIN_IDS): 'bob' is not a Telegram user id",
        ),
        ({"STRATUS_ADMIN_IDS": "-5"}, "'-5' is not a Telegram user id"),
        ({"STRATUS_ADMIN_IDS": " , "}, "admin_ids"),
        ({"STRATUS_APPROVAL_CHAT_ID": None}, "approval_chat_id is missing"),
        (
            {"STRATUS_APPROVAL_CHAT_ID": "admins"},
            "approval_chat_id (STRATUS_APPROVAL_CHAT_ID): 'admins' is not a whole number",
        ),
        (
            {"STRATUS_NOTIFY_CHAT_ID": "1.5"},
            "notify_chat_id (STRATUS_NOTIFY_CHAT_ID): '1.5' is not a whole number",
        ),
        (
            {"STRATUS_DEFAULT_QUOTA_CORES": "-1"},
            "default_quota_cores (STRATUS_DEFAULT_QUOTA_CORES): must be at least 0",
        ),
        (
            {"STRATUS_DEFAULT_QUOTA_MEMORY_MB": "lots"},
            "default_quota_memory_mb (STRATUS_DEFAULT_QUOTA_MEMORY_MB): 'lots' is not a size",
        ),
        ({"STRATUS_APPROVAL_DISK_GB_ABOVE": "1.5G"}, "approval_disk_gb_above"),
        (
            {"STRATUS_APPROVAL_TTL_S": "0"},
            "approval_ttl_s (STRATUS_APPROVAL_TTL_S): must be at least 1",
        ),
        (
            {"STRATUS_DEFAULT_BRIDGE": "br-0"},
            "default_bridge (STRATUS_DEFAULT_BRIDGE): 'br-0' is not a bridge name",
        ),
        ({"STRATUS_DEFAULT_TEMPLATE": "a b"}, "default_template"),
        (
            {"STRATUS_CONFIG": "/nonexistent/stratus.toml"},
            "config file /nonexistent/stratus.toml: not found",
        ),
    ],
)
def test_each_problem_is_reported(change, expected):
    env = dict(MINIMAL)
    for key, value in change.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    problems = problems_of(env)
    assert any(expected in problem for problem in problems), problems
    assert len(problems) == 1, problems


def test_all_problems_reported_together():
    env = {
        "STRATUS_PROXMOX_PORT": "http",
        "STRATUS_PROXMOX_TLS": "sometimes",
        "STRATUS_ADMIN_IDS": "alice",
        "STRATUS_APPROVAL_CHAT_ID": "x",
        "STRATUS_APPROVAL_TTL_S": "-1",
    }
    problems = problems_of(env)
    for expected in [
        "telegram_token is missing",
        "proxmox_host is missing",
        "proxmox_port (STRATUS_PROXMOX_PORT): 'http' is not a whole number",
        "Proxmox credentials are missing",
        "unknown TLS mode 'sometimes'",
        "'alice' is not a Telegram user id",
        "approval_chat_id (STRATUS_APPROVAL_CHAT_ID): 'x' is not a whole number",
        "approval_ttl_s (STRATUS_APPROVAL_TTL_S): must be at least 1",
    ]:
        assert sum(expected in problem for problem in problems) == 1, (expected, problems)
    assert len(problems) == 8


def test_nothing_at_all_lists_each_required_setting():
    problems = problems_of({})
    text = "\n".join(problems)
    for key in ("telegram_token", "proxmox_host", "admin_ids", "approval_chat_id"):
        assert f"{key} is missing" in text
    assert "STRATUS_TELEGRAM_TOKEN" in text  # says how to set it
    assert "Proxmox credentials are missing" in text


def test_file_problems_name_the_file_and_key(tmp_path):
    path = write_config(
        tmp_path,
        """
admin_ids = ["x"]
[proxmox]
hots = "typo"
port = "8006a"
tls = true
[telegram]
token = 12345
""",
    )
    problems = problems_of({}, path)
    text = "\n".join(problems)
    assert f"config file {path}: unknown setting 'proxmox.hots'" in text
    assert f"proxmox_port ({path}: proxmox.port): '8006a' is not a whole number" in text
    assert f"proxmox_tls ({path}: proxmox.tls): must be a string, not bool" in text
    assert f"telegram_token ({path}: telegram.token): must be a string, not int" in text
    assert f"admin_ids ({path}: admin_ids): 'x' is not a Telegram user id" in text


def test_bad_toml_is_a_problem_not_a_traceback(tmp_path):
    path = write_config(tmp_path, "[proxmox\nhost = ")
    problems = problems_of(MINIMAL, path)
    assert len(problems) == 1 and "not valid TOML" in problems[0]


def test_secrets_absent_from_repr_str_and_errors(tmp_path):
    env = {
        **MINIMAL,
        "STRATUS_PROXMOX_USER": "root@pam",
        "STRATUS_PROXMOX_PASSWORD": PASSWORD,
    }
    s = Settings.load(env)
    for text in (repr(s), str(s), f"{s}", repr([s])):
        for secret in (TOKEN, TOKEN_SECRET, PASSWORD):
            assert secret not in text
        assert "telegram_token='***'" in text
        assert "proxmox_host='pve.example.com'" in text  # the rest is shown
    unset = dataclasses.replace(s, proxmox_password=None)
    assert "proxmox_password=None" in repr(unset)

    # a bad secret is reported without its value
    bad = {
        **MINIMAL,
        "STRATUS_TELEGRAM_TOKEN": "123:with space",
        "STRATUS_PROXMOX_TOKEN_SECRET": "a b",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.load(bad)
    assert "with space" not in str(caught.value) and "a b" not in str(caught.value)
    assert len(caught.value.problems) == 2


def test_settings_are_frozen():
    s = Settings.load(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.proxmox_port = 1


@pytest.mark.parametrize(
    "cores, memory_mb, disk_gb, reasons",
    [
        (2, 2048, 16, []),
        (3, 2048, 16, ["3 cores > 2"]),
        (1, 2049, 8, ["2049 MiB memory > 2048 MiB"]),
        (4, 4096, 32, ["4 cores > 2", "4096 MiB memory > 2048 MiB", "32 GiB disk > 16 GiB"]),
    ],
)
def test_approval_thresholds(cores, memory_mb, disk_gb, reasons):
    assert approval_reasons(Size(cores, memory_mb, disk_gb), ApprovalThresholds()) == reasons


def test_network_pools_and_facts(tmp_path):
    path = write_config(tmp_path, """
[network]
pools = "vmbr1=10.10.20.10-10.10.20.200"
forwarding = "pve1"
masquerade = "pve1:vmbr1:vmbr0"
pc_via = "pve1:vmbr0"
port_forwards = "pve1:8006->8006, pve1:2201->10.10.20.5:22"
vbox_vm = "lab"
""")
    settings = Settings.load(MINIMAL, path)
    assert settings.network_pools == (("vmbr1", "10.10.20.10", "10.10.20.200"),)
    facts = settings.network_facts
    assert facts.forwarding_nodes == frozenset({"pve1"})
    assert facts.masquerade == (("pve1", "vmbr1", "vmbr0"),)
    assert facts.pc_reachable_via == (("pve1", "vmbr0"),)
    assert [(f.pc_port, f.target_ip, f.target_port) for f in facts.nat_port_forwards] == [
        (8006, None, 8006), (2201, "10.10.20.5", 22)]
    assert facts.vbox_vm == "lab"
    assert Settings.load(MINIMAL).network_pools == ()


def test_network_settings_problems_are_reported():
    problems = problems_of({**MINIMAL, "STRATUS_NETWORK_POOLS": "vmbr1=10.0.0.9-10.0.0.1",
                            "STRATUS_NETWORK_MASQUERADE": "pve1:vmbr1"})
    assert any("network_pools" in p and "ends before it starts" in p for p in problems)
    assert any("network_masquerade" in p and "NODE:INNER:OUT" in p for p in problems)


def test_proxmox_task_timeout_reaches_the_client_settings(tmp_path):
    from bot.runtime import proxmox_settings

    assert Settings.load(MINIMAL).proxmox_task_timeout_s is None  # a limit per kind of task
    assert proxmox_settings(Settings.load(MINIMAL)).task_timeout is None
    path = write_config(tmp_path, "[proxmox]\ntask_timeout_s = 7200\n")
    s = Settings.load(MINIMAL, path)
    assert s.proxmox_task_timeout_s == 7200
    assert proxmox_settings(s).task_timeout == 7200.0
    problems = problems_of({**MINIMAL, "STRATUS_PROXMOX_TASK_TIMEOUT_S": "0"})
    assert problems == ["proxmox_task_timeout_s (STRATUS_PROXMOX_TASK_TIMEOUT_S): must be from "
                        "1 to 604800, not 0"]


def test_backup_limits_from_defaults_environment_and_file(tmp_path):
    from bot.services.quota import BackupLimits

    assert Settings.load(MINIMAL).backup_limits == BackupLimits(
        backups=20, gb=64, keep_above=7, min_interval_s=3600)
    env = {**MINIMAL, "STRATUS_DEFAULT_QUOTA_BACKUPS": "5", "STRATUS_DEFAULT_QUOTA_BACKUP_GB": "1T",
           "STRATUS_APPROVAL_BACKUP_KEEP_ABOVE": "14",
           "STRATUS_BACKUP_SCHEDULE_MIN_INTERVAL_S": "0"}
    assert Settings.load(env).backup_limits == BackupLimits(5, 1024, 14, 0)
    path = write_config(tmp_path, """
[default_quota]
backups = 3
backup_gb = "16G"

[approval]
backup_keep_above = 2

[backup]
schedule_min_interval_s = 86400
""")
    assert Settings.load(MINIMAL, path).backup_limits == BackupLimits(3, 16, 2, 86400)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"STRATUS_DEFAULT_QUOTA_BACKUPS": "-1"},
         "default_quota_backups (STRATUS_DEFAULT_QUOTA_BACKUPS): must be from 0 to 1000000, "
         "not -1"),
        ({"STRATUS_DEFAULT_QUOTA_BACKUPS": "many"},
         "default_quota_backups (STRATUS_DEFAULT_QUOTA_BACKUPS): 'many' is not a whole number"),
        ({"STRATUS_DEFAULT_QUOTA_BACKUP_GB": "lots"},
         "default_quota_backup_gb (STRATUS_DEFAULT_QUOTA_BACKUP_GB): 'lots' is not a disk size"),
        ({"STRATUS_DEFAULT_QUOTA_BACKUP_GB": "1.5G"}, "'1.5G' is not a whole number of GiB"),
        ({"STRATUS_APPROVAL_BACKUP_KEEP_ABOVE": "10001"},
         "approval_backup_keep_above (STRATUS_APPROVAL_BACKUP_KEEP_ABOVE): must be from 0 to "
         "10000, not 10001"),
        ({"STRATUS_BACKUP_SCHEDULE_MIN_INTERVAL_S": "1h"},
         "backup_schedule_min_interval_s (STRATUS_BACKUP_SCHEDULE_MIN_INTERVAL_S): '1h' is not "
         "a whole number"),
        ({"STRATUS_BACKUP_SCHEDULE_MIN_INTERVAL_S": "-60"},
         "must be from 0 to 2678400, not -60"),
    ],
)
def test_bad_backup_limits_are_each_one_clear_problem(change, expected):
    problems = problems_of({**MINIMAL, **change})
    assert len(problems) == 1 and expected in problems[0], problems
def test_flood_limits_defaults_file_and_environment(tmp_path):
    from bot.runtime import chat_policy
    from bot.services.ratelimit import ChatLimits

    defaults = Settings.load(MINIMAL).chat_limits
    assert defaults == ChatLimits(stranger_answer_every_s=300, user_rate_per_min=60,
                                  user_burst=30, admin_rate_per_min=300, admin_burst=100)
    path = write_config(tmp_path, "[limits]\nstranger_answer_every_s = 600\nuser_burst = 10\n")
    s = Settings.load({**MINIMAL, "STRATUS_LIMITS_USER_RATE_PER_MIN": "20",
                       "STRATUS_LIMITS_ADMIN_BURST": "50"}, path)
    assert s.chat_limits == ChatLimits(stranger_answer_every_s=600, user_rate_per_min=20,
                                       user_burst=10, admin_rate_per_min=300, admin_burst=50)
    assert chat_policy(s).limits == s.chat_limits  # what the product builds its limiter from


@pytest.mark.parametrize("key, value, expected", [
    ("LIMITS_STRANGER_ANSWER_EVERY_S", "0", "must be from 1 to 86400, not 0"),
    ("LIMITS_USER_RATE_PER_MIN", "1.5", "'1.5' is not a whole number"),
    ("LIMITS_USER_BURST", "0", "must be from 1 to 10000, not 0"),
    ("LIMITS_ADMIN_RATE_PER_MIN", "fast", "'fast' is not a whole number"),
    ("LIMITS_ADMIN_BURST", "-3", "must be from 1 to 10000, not -3"),
])
def test_flood_limit_problems_are_reported(key, value, expected):
    problems = problems_of({**MINIMAL, f"STRATUS_{key}": value})
    assert problems == [f"{key.lower()} (STRATUS_{key}): {expected}"]


def test_unknown_limit_in_the_file_is_a_problem(tmp_path):
    path = write_config(tmp_path, "[limits]\nuser_burts = 10\n")
    assert problems_of(MINIMAL, path) == [f"config file {path}: unknown setting 'limits.user_burts'"]
