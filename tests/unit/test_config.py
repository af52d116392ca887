"""The config loader: defaults, the embedded local.yaml, env expansion, and every error."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from nodeconfig import (
    ChildConfig,
    ConfigError,
    EndpointConfig,
    FederationMemberConfig,
    NodeConfig,
    SupervisorFlags,
    build_config,
    default_config_path,
    load_config,
)
from nodeconfig.envvars import expand

# Valid points (derived with mock_governance.federation.federation_keys("config-tests", 3)).
KEY_A = "0281025de943d62d221ecb4e5dcca88e22c3a60302cee340512e766eb5b1e2319a"
KEY_B = "0370bf28e32ca23ab8fa5db47e47ab3b1dab381edffd12a1482793976bbf8551e3"
KEY_C = "03e71356078b9b370bdefe0256dc2333ead0beeaad1783170ebcc53f9fe0ea7b5f"
FEDERATION = {
    "threshold": 2,
    "members": [
        {"member_id": "m1", "public_key": KEY_A},
        {"member_id": "m2", "public_key": KEY_B},
        {"member_id": "m3", "public_key": KEY_C},
    ],
}
TOP_LEVEL_KEYS = (
    "node",
    "actor_system",
    "governance",
    "supervision",
    "bridge",
    "chain",
    "metrics",
    "logging",
    "storage",
)


def write(tmp_path: Path, content: str | dict[str, Any], name: str = "node.yaml") -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    path.write_text(text, encoding="utf-8")
    return path


def load(
    tmp_path: Path, content: str | dict[str, Any], env: dict[str, str] | None = None
) -> NodeConfig:
    return load_config(write(tmp_path, content), env=env or {}, base_dir=tmp_path)


def load_error(
    tmp_path: Path, content: str | dict[str, Any], env: dict[str, str] | None = None
) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, content, env)
    return caught.value


def assert_names(err: ConfigError, file: Path, key: str | None, fragment: str) -> None:
    """The error names the file, the key and the problem, in that order."""
    assert err.file == str(file)
    assert err.key == key
    assert fragment in err.problem
    expected = f"{file}: {err.problem}" if key is None else f"{file}: {key}: {err.problem}"
    assert str(err) == expected


# --- defaults and the embedded config ---------------------------------------------------------


@pytest.mark.parametrize("content", ["", "{}\n", "# only a comment\n"])
def test_an_empty_file_gives_every_default(tmp_path: Path, content: str) -> None:
    config = load(tmp_path, content)

    assert config.node.id == "alys-local-1"
    assert config.actor_system.admin_port == 19500
    assert config.actor_system.host == "127.0.0.1"
    governance = config.governance
    assert governance.endpoints == (EndpointConfig("127.0.0.1:50051", 100),)
    assert governance.mock.enabled is True
    assert (governance.mock.port, governance.mock.control_port) == (50051, 50052)
    assert governance.mock.federation_seed == "local-dev"
    assert governance.auth.token_env is None
    assert governance.tls.enabled is False
    assert (governance.heartbeat_interval_s, governance.heartbeat_timeout_s) == (5.0, 15.0)
    assert governance.status_interval_s == 30.0
    assert governance.reconnect.initial_backoff_s == 1.0
    assert governance.reconnect.multiplier == 1.6
    assert governance.reconnect.jitter == 0.2
    assert governance.reconnect.max_backoff_s == 120.0
    assert governance.reconnect.max_attempts is None
    assert governance.circuit_breaker.failure_threshold == 5
    assert governance.circuit_breaker.reset_timeout_s == 30.0
    assert governance.outbox.capacity == 10000
    assert governance.outbox.overflow == "drop_oldest"
    timeouts = governance.request_timeout_s
    assert (timeouts.signature, timeouts.pegin, timeouts.status) == (60.0, 30.0, 30.0)
    assert config.metrics.host == "127.0.0.1"
    assert config.metrics.port == 9464
    assert config.logging.level == "INFO"
    assert config.chain.network == "regtest"
    assert config.chain.federation is None
    assert config.bridge.broadcaster.kind == "spool"
    assert config.bridge.max_pegout_sat == 1_000_000_000
    assert config.source == str(tmp_path / "node.yaml")


def test_default_durations_are_floats(tmp_path: Path) -> None:
    config = load(tmp_path, "")

    assert isinstance(config.governance.heartbeat_interval_s, float)
    assert isinstance(config.supervision.health.ping_interval_s, float)
    assert isinstance(config.chain.height_source.slot_s, float)


def test_default_supervision_flags_and_children(tmp_path: Path) -> None:
    supervision = load(tmp_path, "").supervision

    assert supervision.health.ping_interval_s == 1.0
    assert supervision.health.ping_timeout_s == 5.0
    assert supervision.backoff.initial_s == 0.0
    assert supervision.backoff.max_s == 5.0
    assert supervision.flags_for("root") == SupervisorFlags("one_for_one", 3, 60.0)
    assert supervision.flags_for("storage_supervisor") == SupervisorFlags("one_for_one", 10, 60.0)
    assert supervision.flags_for("system_supervisor") == SupervisorFlags("one_for_one", 10, 60.0)
    assert supervision.children == {}
    assert supervision.child("stream") == ChildConfig("permanent", 5.0)


def test_flags_for_an_unknown_supervisor_is_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown supervisor"):
        load(tmp_path, "").supervision.flags_for("nope")


def test_relative_paths_are_resolved_against_base_dir(tmp_path: Path) -> None:
    config = load(
        tmp_path, {"storage": {"path": "db/x.sqlite3"}, "logging": {"file": "/var/n.log"}}
    )

    assert config.storage.path == str(tmp_path / "db" / "x.sqlite3")
    assert config.logging.file == "/var/n.log"
    assert config.bridge.broadcaster.spool_path == str(tmp_path / "data" / "broadcast.spool")


def test_base_dir_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "")

    config = load_config("node.yaml", env={})

    assert config.source == str(tmp_path / "node.yaml")
    assert config.logging.file == str(tmp_path / "logs" / "node.log")


def test_local_yaml_loads_without_environment_and_holds_the_defaults(tmp_path: Path) -> None:
    path = default_config_path()
    assert path == Path(__file__).resolve().parents[2] / "configs" / "local.yaml"

    config = load_config(path, env={}, base_dir=tmp_path)

    defaults = build_config({}, source=str(path), env={}, base_dir=tmp_path)
    assert config == defaults
    assert config.governance.mock.enabled is True


# --- a full custom config ---------------------------------------------------------------------


def full_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "node": {"id": "alys-prod-7"},
        "actor_system": {"admin_port": 20500, "host": "10.0.0.5"},
        "governance": {
            "endpoints": [
                {"url": "gov-a.internal:443", "priority": 10},
                {"url": "[::1]:8443"},
            ],
            "mock": {"enabled": False, "port": 6000, "control_port": 6001, "federation_seed": "s"},
            "auth": {"token_env": "GOV_TOKEN"},
            "tls": {
                "enabled": True,
                "ca_file": "tls/ca.pem",
                "cert_file": "tls/node.pem",
                "key_file": str(tmp_path / "key.pem"),
            },
            "heartbeat_interval_s": 2,
            "heartbeat_timeout_s": 7.5,
            "status_interval_s": 10,
            "reconnect": {
                "initial_backoff_s": 0.5,
                "multiplier": 2,
                "jitter": 0,
                "max_backoff_s": 30,
                "max_attempts": 12,
            },
            "circuit_breaker": {"failure_threshold": 3, "reset_timeout_s": 9},
            "outbox": {"capacity": 50, "overflow": "reject_new"},
            "request_timeout_s": {"signature": 90, "pegin": 20, "status": 5},
        },
        "supervision": {
            "health": {"ping_interval_s": 0.5, "ping_timeout_s": 2},
            "backoff": {
                "initial_s": 0.1,
                "multiplier": 3,
                "max_s": 10,
                "jitter": 1,
                "reset_after_s": 60,
            },
            "supervisors": {
                "root": {"intensity": 5},
                "system_supervisor": {"strategy": "rest_for_one", "period_s": 30},
            },
            "children": {
                "stream": {"restart": "transient", "shutdown_s": 2},
                "storage": {"shutdown_s": 0},
            },
        },
        "bridge": {
            "broadcaster": {
                "kind": "bitcoin_rpc",
                "spool_path": "spool/out",
                "rpc_url": "http://127.0.0.1:18443",
                "rpc_user_env": "BTC_USER",
                "rpc_password_env": "BTC_PASSWORD",
            },
            "max_pegout_sat": 5000,
            "signature_retries": 0,
            "min_pegin_confirmations": 1,
        },
        "chain": {
            "network": "signet",
            "height_source": {"kind": "evm_rpc", "slot_s": 1, "rpc_url": "https://node:38332"},
            "governance_pubkey": KEY_C.upper(),
            "federation": FEDERATION,
        },
        "metrics": {"host": "0.0.0.0", "port": 9100, "allow_remote": True},
        "logging": {"file": "var/node.log", "level": "DEBUG"},
        "storage": {"path": "var/node.sqlite3"},
    }


def test_a_full_custom_config_sets_every_key(tmp_path: Path) -> None:
    config = load(tmp_path, full_config(tmp_path))

    assert config.node.id == "alys-prod-7"
    assert (config.actor_system.admin_port, config.actor_system.host) == (20500, "10.0.0.5")
    governance = config.governance
    assert governance.endpoints == (
        EndpointConfig("gov-a.internal:443", 10),
        EndpointConfig("[::1]:8443", 100),
    )
    assert governance.mock.enabled is False
    assert governance.auth.token_env == "GOV_TOKEN"
    assert governance.tls.ca_file == str(tmp_path / "tls" / "ca.pem")
    assert governance.tls.key_file == str(tmp_path / "key.pem")
    assert governance.heartbeat_interval_s == 2.0
    assert isinstance(governance.heartbeat_interval_s, float)
    assert governance.reconnect.max_attempts == 12
    assert governance.reconnect.jitter == 0.0
    assert governance.outbox.overflow == "reject_new"
    assert governance.request_timeout_s.signature == 90.0

    supervision = config.supervision
    # A partial override keeps the other fields of that supervisor's defaults.
    assert supervision.flags_for("root") == SupervisorFlags("one_for_one", 5, 60.0)
    assert supervision.flags_for("system_supervisor") == SupervisorFlags("rest_for_one", 10, 30.0)
    assert supervision.flags_for("storage_supervisor") == SupervisorFlags("one_for_one", 10, 60.0)
    assert supervision.child("stream") == ChildConfig("transient", 2.0)
    assert supervision.child("storage") == ChildConfig("permanent", 0.0)
    assert supervision.child("chain") == ChildConfig()

    assert config.bridge.broadcaster.spool_path == str(tmp_path / "spool" / "out")
    assert config.bridge.broadcaster.rpc_password_env == "BTC_PASSWORD"
    assert config.bridge.signature_retries == 0
    assert config.chain.network == "signet"
    assert config.chain.height_source.rpc_url == "https://node:38332"
    assert config.chain.governance_pubkey == KEY_C  # stored lower-case
    assert config.chain.federation is not None
    assert config.chain.federation.members[1] == FederationMemberConfig("m2", KEY_B)
    assert (config.metrics.host, config.metrics.port) == ("0.0.0.0", 9100)
    assert config.logging.level == "DEBUG"
    assert config.storage.path == str(tmp_path / "var" / "node.sqlite3")


def test_node_config_survives_a_pickle_round_trip(tmp_path: Path) -> None:
    config = load(tmp_path, full_config(tmp_path))

    copy = pickle.loads(pickle.dumps(config))

    assert copy == config
    assert copy.supervision.child("stream").restart == "transient"
    assert hash(copy) == hash(config)


def test_config_error_survives_a_pickle_round_trip() -> None:
    err = ConfigError("/etc/node.yaml", "metrics.port", "must be a port")

    copy = pickle.loads(pickle.dumps(err))

    assert (copy.file, copy.key, copy.problem) == (err.file, err.key, err.problem)
    assert str(copy) == "/etc/node.yaml: metrics.port: must be a port"


# --- environment expansion --------------------------------------------------------------------


def test_env_expansion_replaces_references_inside_strings(tmp_path: Path) -> None:
    content = 'node: {id: "alys-${REGION}-${INDEX}"}\nstorage: {path: "${DATA:-data}/db"}\n'

    config = load(tmp_path, content, env={"REGION": "eu", "INDEX": "3"})

    assert config.node.id == "alys-eu-3"
    assert config.storage.path == str(tmp_path / "data" / "db")


def test_env_default_applies_when_the_variable_is_unset_or_empty(tmp_path: Path) -> None:
    content = "node: {id: '${NODE_ID:-fallback}'}\n"

    assert load(tmp_path, content).node.id == "fallback"
    assert load(tmp_path, content, env={"NODE_ID": ""}).node.id == "fallback"
    assert load(tmp_path, content, env={"NODE_ID": "set"}).node.id == "set"


def test_double_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    config = load(tmp_path, "node: {id: 'a$$b$${NOT_A_VAR}$c'}\n")

    assert config.node.id == "a$b${NOT_A_VAR}$c"


def test_a_whole_reference_is_read_as_a_yaml_scalar(tmp_path: Path) -> None:
    content = (
        "metrics: {port: '${PORT}'}\n"
        "governance:\n"
        "  mock: {enabled: '${MOCK}'}\n"
        "  heartbeat_interval_s: ${BEAT}\n"
        "  reconnect: {max_attempts: '${ATTEMPTS:-}'}\n"
    )
    env = {"PORT": "9999", "MOCK": "true", "BEAT": "2.5"}

    config = load(tmp_path, content, env=env)

    assert config.metrics.port == 9999
    assert config.governance.mock.enabled is True
    assert config.governance.heartbeat_interval_s == 2.5
    assert config.governance.reconnect.max_attempts is None


def test_a_string_setting_keeps_the_text_of_a_whole_reference(tmp_path: Path) -> None:
    config = load(tmp_path, "node: {id: '${NODE_ID}'}\n", env={"NODE_ID": "007"})

    assert config.node.id == "007"


def test_a_missing_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "logging: {file: '${LOG_DIR}/node.log'}\n")

    assert_names(err, tmp_path / "node.yaml", "logging.file", "LOG_DIR is not set")


def test_an_expanded_value_of_the_wrong_type_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, "metrics: {port: '${PORT}'}\n", env={"PORT": "abc"})

    assert_names(
        err, tmp_path / "node.yaml", "metrics.port", "expected an integer, got 'abc' (str)"
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("${UNCLOSED", "unterminated"),
        ("${1BAD}", "invalid reference"),
        ("${}", "invalid reference"),
    ],
)
def test_malformed_references_are_errors(tmp_path: Path, value: str, fragment: str) -> None:
    err = load_error(tmp_path, {"node": {"id": value}})

    assert_names(err, tmp_path / "node.yaml", "node.id", fragment)


@given(st.text())
def test_escaping_every_dollar_expands_back_to_the_text(text: str) -> None:
    assert expand(text.replace("$", "$$"), {}) == text


@given(st.text(min_size=1).filter(lambda v: not any(c.isspace() for c in v)))
def test_any_variable_value_becomes_the_node_id_verbatim(value: str) -> None:
    config = build_config({"node": {"id": "${NODE_ID}"}}, source="/n.yaml", env={"NODE_ID": value})

    assert config.node.id == value


# --- file-level errors ------------------------------------------------------------------------


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})

    assert_names(caught.value, path, None, "file not found")


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={})

    assert_names(caught.value, tmp_path, None, "is a directory")


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_bytes(b"node: {id: \xff}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})

    assert_names(caught.value, path, None, "not UTF-8")


def test_an_unreadable_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    # Tests may run as root, where chmod 000 does not stop a read.
    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})

    assert_names(caught.value, path, None, "cannot read the file: Permission denied")


@pytest.mark.parametrize(
    "text",
    ["node:\n  id: alys\n\tbad: 1\n", "a: 1\nb: 2\nc: [1, 2\n", "node: {id: x\n"],
)
def test_invalid_yaml_reports_the_line_yaml_gives(tmp_path: Path, text: str) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as yaml_error:
        yaml.safe_load(text)
    line = yaml_error.value.problem_mark.line + 1  # type: ignore[union-attr]

    err = load_error(tmp_path, text)

    assert_names(err, tmp_path / "node.yaml", None, f"invalid YAML at line {line}")


def test_a_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, "metrics:\n  port: 1\n  port: 2\n")

    assert_names(err, tmp_path / "node.yaml", None, "line 3")
    assert "duplicate key 'port'" in err.problem


@pytest.mark.parametrize("text", ["- node\n- metrics\n", "just text\n", "42\n"])
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    err = load_error(tmp_path, text)

    assert_names(err, tmp_path / "node.yaml", None, "expected a mapping of sections")


# --- key-level errors -------------------------------------------------------------------------


def test_an_unknown_key_lists_the_allowed_keys_and_suggests_the_closest(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"metrics": {"prot": 9000}})

    assert_names(err, tmp_path / "node.yaml", "metrics.prot", "unknown key 'prot'")
    assert "did you mean 'port'?" in err.problem
    assert err.problem.endswith("allowed keys: host, port, allow_remote")


def test_an_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"governence": {}})

    assert_names(err, tmp_path / "node.yaml", "governence", "did you mean 'governance'?")


def test_an_unknown_key_inside_a_list_item_names_the_index(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"governance": {"endpoints": [{"url": "a:1"}, {"uri": "b:2"}]}})

    assert_names(err, tmp_path / "node.yaml", "governance.endpoints[1].uri", "did you mean 'url'?")


@given(
    st.sampled_from(("", *TOP_LEVEL_KEYS)),
    st.text(min_size=1),
)
def test_any_unknown_key_is_rejected(section: str, name: str) -> None:
    allowed = {spec.name for spec in dataclasses.fields(section_class(section))}
    assume(name not in allowed)
    raw: dict[str, Any] = nested(section, {name: 1}) if section else {name: 1}

    with pytest.raises(ConfigError) as caught:
        build_config(raw, source="/n.yaml", env={})

    assert caught.value.key == (f"{section}.{name}" if section else name)
    assert caught.value.problem.startswith(f"unknown key {name!r}")


def section_class(section: str) -> type:
    if not section:
        return NodeConfig
    return type(getattr(NodeConfig(), section))


def nested(dotted: str, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} from "a.b"."""
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return value


def bad(dotted: str, value: Any, fragment: str, *, key: str | None = None, name: str = "") -> Any:
    """A config setting ``dotted`` to ``value``; the error names ``key`` (default: dotted)."""
    return pytest.param(nested(dotted, value), key or dotted, fragment, id=name or dotted)


def federation(*members: tuple[str, str], threshold: int = 1) -> dict[str, Any]:
    return {
        "threshold": threshold,
        "members": [{"member_id": m, "public_key": k} for m, k in members],
    }


MOCK_PORT = "governance.mock.port"
CONTROL_PORT = "governance.mock.control_port"
ROOT = "supervision.supervisors.root"
MEMBER_0 = "chain.federation.members[0]"
MEMBER_1 = "chain.federation.members[1]"

ERROR_CASES = [
    # wrong types
    bad("metrics.port", "abc", "expected an integer, got 'abc' (str)", name="int from text"),
    bad("metrics.port", True, "expected an integer, got True (bool)", name="int from bool"),
    bad("bridge.signature_retries", 2.5, "expected an integer, got 2.5 (float)"),
    bad("governance.status_interval_s", "soon", "expected a number, got 'soon' (str)"),
    bad("governance.status_interval_s", float("nan"), "expected a number", name="nan"),
    bad("chain.height_source.slot_s", False, "expected a number, got False (bool)"),
    bad("governance.mock.enabled", "on please", "expected true or false"),
    bad("node.id", 12, "expected a string, got 12 (int)", name="string from int"),
    bad("metrics", [1, 2], "expected a mapping, got [1, 2] (list)"),
    bad("governance.endpoints", {"url": "a:1"}, "expected a list", name="list from mapping"),
    bad(
        "governance.endpoints",
        [{"priority": 1}],
        "missing required key",
        key="governance.endpoints[0].url",
        name="required url",
    ),
    # ports
    bad("metrics.port", 0, "between 1 and 65535, got 0", name="port zero"),
    bad("actor_system.admin_port", 70000, "between 1 and 65535, got 70000"),
    bad(
        "metrics.port",
        19500,
        "port 19500 is already used by actor_system.admin_port",
        name="metrics on admin port",
    ),
    bad(MOCK_PORT, 19500, "already used by actor_system.admin_port", name="mock on admin"),
    bad(CONTROL_PORT, 9464, "already used by metrics.port", name="control on metrics"),
    bad(CONTROL_PORT, 50051, "already used by governance.mock.port", name="mock ports"),
    # enumerations
    bad(
        f"{ROOT}.strategy",
        "one_for_some",
        "expected one of: one_for_one, one_for_all, rest_for_one",
    ),
    bad(
        "supervision.children.stream.restart",
        "always",
        "unknown value 'always'; expected one of: permanent, transient, temporary",
    ),
    bad(
        "governance.outbox.overflow",
        "drop_newest",
        "expected one of: drop_oldest, drop_lowest_priority, reject_new",
    ),
    bad("bridge.broadcaster.kind", "electrum", "expected one of: spool, bitcoin_rpc"),
    bad("chain.height_source.kind", "sundial", "expected one of: clock, evm_rpc"),
    bad("chain.network", "liquid", "expected one of: regtest, testnet, signet, mainnet"),
    bad("logging.level", "info", "did you mean 'INFO'?"),
    # durations and ranges
    bad("governance.heartbeat_interval_s", 0, "must be greater than 0, got 0.0"),
    bad("governance.circuit_breaker.reset_timeout_s", -1, "must be greater than 0, got -1.0"),
    bad("supervision.health.ping_timeout_s", 0, "must be greater than 0"),
    bad(f"{ROOT}.period_s", 0, "must be greater than 0"),
    bad("supervision.children.bridge.shutdown_s", -2, "must not be negative"),
    bad("governance.reconnect.jitter", 1.5, "must be between 0 and 1, got 1.5"),
    bad("supervision.backoff.jitter", -0.1, "must be between 0 and 1, got -0.1"),
    bad("governance.reconnect.multiplier", 0.5, "must be at least 1, got 0.5"),
    bad("supervision.backoff.multiplier", 0, "must be at least 1"),
    bad("supervision.supervisors.system_supervisor.intensity", -1, "must be at least 0"),
    bad("governance.heartbeat_timeout_s", 5, "must be greater than heartbeat_interval_s (5.0)"),
    bad("governance.reconnect.max_backoff_s", 0.5, "must be at least initial_backoff_s (1.0)"),
    bad(
        "supervision.backoff",
        {"initial_s": 2, "max_s": 1},
        "must be at least initial_s (2.0)",
        key="supervision.backoff.max_s",
    ),
    bad("governance.reconnect.max_attempts", 0, "must be at least 1"),
    bad("governance.outbox.capacity", 0, "must be at least 1, got 0"),
    # endpoints
    bad("governance.endpoints", [], "must not be empty", name="no endpoints"),
    bad(
        "governance.endpoints",
        [{"url": "http://gov:443"}],
        "expected 'host:port'",
        key="governance.endpoints[0].url",
        name="url with scheme",
    ),
    bad(
        "governance.endpoints",
        [{"url": "gov.example"}],
        "expected 'host:port'",
        key="governance.endpoints[0].url",
        name="url without port",
    ),
    bad(
        "governance.endpoints",
        [{"url": "gov:99999"}],
        "port 99999 in 'gov:99999' is outside",
        key="governance.endpoints[0].url",
        name="url port range",
    ),
    bad(
        "governance.endpoints",
        [{"url": "a:1"}, {"url": "a:1"}],
        "duplicate endpoint 'a:1'",
        key="governance.endpoints[1].url",
        name="duplicate url",
    ),
    # federation
    bad(
        "governance.mock.enabled",
        False,
        "required when governance.mock.enabled is false",
        key="chain.federation",
        name="federation missing",
    ),
    bad(
        "chain.federation",
        {**FEDERATION, "threshold": 0},
        "must be at least 1",
        key="chain.federation.threshold",
        name="threshold zero",
    ),
    bad(
        "chain.federation",
        {**FEDERATION, "threshold": 4},
        "4 is greater than the number of members (3)",
        key="chain.federation.threshold",
        name="threshold above members",
    ),
    bad("chain.federation", federation(), "must not be empty", key="chain.federation.members"),
    bad(
        "chain.federation",
        {"threshold": 1},
        "must list at least one member",
        key="chain.federation.members",
        name="members left out",
    ),
    bad(
        "chain.federation",
        federation(("m", KEY_A), ("m", KEY_B)),
        "duplicate member id 'm'",
        key=f"{MEMBER_1}.member_id",
        name="duplicate member id",
    ),
    bad(
        "chain.federation",
        federation(("a", KEY_A), ("b", KEY_A.upper())),
        f"duplicate public key '{KEY_A}'",
        key=f"{MEMBER_1}.public_key",
        name="duplicate key",
    ),
    bad(
        "chain.federation",
        federation(("a", "02" + "zz" * 32)),
        "non-hex",
        key=f"{MEMBER_0}.public_key",
        name="key not hex",
    ),
    bad(
        "chain.federation",
        federation(("a", KEY_A[:-2])),
        "got 64 hex digits",
        key=f"{MEMBER_0}.public_key",
        name="key too short",
    ),
    bad(
        "chain.federation",
        federation(("a", "04" + KEY_A[2:])),
        "got prefix '04'",
        key=f"{MEMBER_0}.public_key",
        name="uncompressed key",
    ),
    bad(
        "chain.federation",
        federation(("a", "02" + "11" * 32)),
        "is not a point on the secp256k1 curve",
        key=f"{MEMBER_0}.public_key",
        name="key off the curve",
    ),
    bad("chain.governance_pubkey", "abc", "66 hex digits starting with 02 or 03"),
    bad(
        "chain.network",
        "mainnet",
        "cannot run on mainnet",
        key="governance.mock.enabled",
        name="mock on mainnet",
    ),
    # tls, rpc, names and hosts
    bad(
        "governance.tls.enabled",
        True,
        "required when tls.enabled is true",
        key="governance.tls.ca_file",
    ),
    bad(
        "governance.tls.cert_file",
        "c.pem",
        "required when cert_file is set",
        key="governance.tls.key_file",
    ),
    bad(
        "governance.tls.key_file",
        "k.pem",
        "required when key_file is set",
        key="governance.tls.cert_file",
    ),
    bad(
        "bridge.broadcaster.kind",
        "bitcoin_rpc",
        "required when kind is bitcoin_rpc",
        key="bridge.broadcaster.rpc_url",
        name="bitcoin_rpc without url",
    ),
    bad("bridge.broadcaster.rpc_url", "127.0.0.1:18443", "expected an http:// or https:// URL"),
    # Characters a URL must percent-encode would end it early in a log line's redaction.
    bad("bridge.broadcaster.rpc_url", "http://u:pa ss@127.0.0.1:8332/",
        "a character a URL must percent-encode (white space", name="url with a space"),
    bad("chain.height_source.rpc_url", 'http://u:p"w@127.0.0.1:8545/',
        "a character a URL must percent-encode", name="url with a quote"),
    bad(
        "chain.height_source.kind",
        "evm_rpc",
        "required when kind is evm_rpc",
        key="chain.height_source.rpc_url",
        name="evm_rpc height without url",
    ),
    bad(
        "governance.mock.federation_threshold",
        6,
        "6 is greater than governance.mock.federation_size (5)",
        name="mock threshold above size",
    ),
    bad("governance.auth.token_env", "MY-TOKEN", "expected the name of an environment variable"),
    bad("actor_system.host", "localhost", "expected an IP address", name="host name"),
    bad("actor_system.host", "8.8.8.8", "8.8.8.8 is public", name="public host"),
    bad("actor_system.host", "0.0.0.0", "every interface", name="unspecified host"),
    bad("node.id", "alys node", "must not contain whitespace", name="node id spaces"),
    bad("storage.path", "", "must not be empty"),
    # named entries
    bad("supervision.supervisors.rot", {}, "unknown name 'rot' (did you mean 'root'?)"),
    bad("supervision.children.streem", {},
        "expected one of: storage_supervisor, storage, system_supervisor"),
    bad("supervision.children.stream.shutdown", 1, "did you mean 'shutdown_s'?"),
]


@pytest.mark.parametrize(("content", "key", "fragment"), ERROR_CASES)
def test_an_impossible_config_names_file_key_and_problem(
    tmp_path: Path, content: dict[str, Any], key: str, fragment: str
) -> None:
    err = load_error(tmp_path, content)

    assert_names(err, tmp_path / "node.yaml", key, fragment)


# --- properties -------------------------------------------------------------------------------

TAKEN_PORTS = {19500, 9464, 50051, 50052}


@given(st.integers(1, 65535).filter(lambda port: port not in TAKEN_PORTS))
def test_any_valid_port_round_trips(port: int) -> None:
    config = build_config({"actor_system": {"admin_port": port}}, source="/n.yaml", env={})

    assert config.actor_system.admin_port == port


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536)))
def test_any_port_outside_the_range_is_rejected(port: int) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"metrics": {"port": port}}, source="/n.yaml", env={})

    assert caught.value.key == "metrics.port"


@given(st.integers(1, 65535).filter(lambda port: port not in TAKEN_PORTS))
def test_a_port_from_the_environment_is_an_int(port: int) -> None:
    raw = {"metrics": {"port": "${METRICS_PORT}"}}

    config = build_config(raw, source="/n.yaml", env={"METRICS_PORT": str(port)})

    assert config.metrics.port == port


def test_configs_built_twice_are_equal_and_hashable() -> None:
    first = build_config({}, source="/n.yaml", env={}, base_dir="/srv")
    second = build_config({}, source="/n.yaml", env={}, base_dir="/srv")

    assert first == second
    assert {first: 1}[second] == 1
    assert isinstance(first, NodeConfig)
