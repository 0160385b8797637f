"""The container files agree with each other and with the bot, without building anything.

``scripts/container-check`` builds and runs the image for real (by hand: it needs podman or
docker). These checks guard what can be read from the files and would otherwise drift
silently: the database and the media folder both on the volume the non-root user owns, no
source tree built in the final image, compose's init and restart policy, secrets kept out of
git and out of the build context. The last test runs the check's emulated world
(``scripts/container_world.py``) against the bot on this machine, so the script keeps up with
the emulators' API.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml

from bot.config import ENV_DB, ENV_MEDIA
from bot.emulators.harness import API_KEY, BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stage:
    """One ``FROM`` stage of the Dockerfile: its instructions as (KEYWORD, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        """The arguments of every ``keyword`` instruction, in order."""
        return [a for k, a in self.instructions if k == keyword]

    def env(self) -> dict[str, str]:
        """The ``ENV key=value`` pairs this stage sets."""
        pairs: dict[str, str] = {}
        for args in self.args("ENV"):
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                pairs[key] = value
        return pairs


def dockerfile_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages (continuation lines joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def service() -> dict:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    (only,) = compose["services"].values()
    return only


def volumes_of(stage: Stage) -> list[PurePosixPath]:
    paths: list[PurePosixPath] = []
    for args in stage.args("VOLUME"):
        words = yaml.safe_load(args) if args.startswith("[") else args.split()
        paths.extend(PurePosixPath(w) for w in words)
    return paths


def test_database_and_media_both_live_on_the_volume(final):
    env = final.env()
    (volume,) = volumes_of(final)
    for key in (ENV_DB, ENV_MEDIA):
        assert key in env, f"the final image does not set {key}"
        assert PurePosixPath(env[key]).is_relative_to(volume), f"{key}={env[key]} is off {volume}"


def test_the_volume_and_media_folder_belong_to_the_non_root_user(final):
    (user,) = final.args("USER")
    assert user not in ("root", "0")
    (volume,) = volumes_of(final)
    media = final.env()[ENV_MEDIA]
    runs = " ".join(final.args("RUN"))
    assert "--uid 10001" in runs and user in runs, "the user is created with uid 10001"
    assert f"mkdir -p {media}" in runs, (
        "the media folder exists in the image (copied to a new volume)"
    )
    assert f"chown -R {user}:{user} {volume}" in runs


def test_the_final_image_installs_a_wheel_not_the_source_tree(final):
    """``pip install .`` in the final stage leaves build/ and *.egg-info there."""
    copied = [shlex.split(a) for a in final.args("COPY")]
    assert not any("bot" in words[:-1] for words in copied), "no source tree in the final stage"
    installs = [shlex.split(a) for a in final.args("RUN") if "pip install" in a]
    assert installs, "the final stage installs the bot"
    for words in installs:
        assert "." not in words, f"builds the source tree in the final stage: {words}"
    assert any(w.endswith(".whl") for words in installs for w in words)


def test_the_dependency_list_the_image_installs_is_pyprojects(stages, tmp_path):
    """The requirements stage reads pyproject.toml; run its command on the real file."""
    (requirements,) = [s for s in stages if s.name == "requirements"]
    (command,) = requirements.args("RUN")
    words = shlex.split(command)
    assert words[:2] == ["python", "-c"] and words[3:] == [">", "requirements.txt"]
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    result = subprocess.run(
        [sys.executable, "-c", words[2]], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert result.stdout.splitlines() == expected


def test_healthcheck_and_entry_point_are_the_bots(final, service):
    (healthcheck,) = final.args("HEALTHCHECK")
    probe = healthcheck.split(" CMD ", 1)[1]
    assert yaml.safe_load(probe) == ["python", "-m", "bot.ops.health"]
    assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.ops.health"]
    assert yaml.safe_load(final.args("ENTRYPOINT")[0]) == ["python", "-m", "bot"]
    assert final.args("STOPSIGNAL") == ["SIGTERM"]


def test_compose_puts_db_and_media_on_the_same_volume_as_the_image(final, service):
    env = final.env()
    (volume,) = volumes_of(final)
    assert service["environment"][ENV_DB] == env[ENV_DB]
    assert service["environment"][ENV_MEDIA] == env[ENV_MEDIA]
    targets = [PurePosixPath(v.split(":")[1]) for v in service["volumes"]]
    assert volume in targets


def test_compose_runs_an_init_and_a_restart_policy_the_engine_backs_off(service):
    assert service["init"] is True
    # Docker's engine backs off (100 ms, doubling, up to 1 min) for every policy; compose
    # passes only condition and max_attempts on, so a deploy delay would be a false promise.
    assert service["restart"] == "unless-stopped"
    policy = (service.get("deploy") or {}).get("restart_policy") or {}
    assert not {"delay", "window"} & set(policy), "ignored by docker compose (swarm only)"
    grace = str(service["stop_grace_period"])
    assert grace.endswith("s") and int(grace[:-1]) >= 10


def ignore_patterns(name: str) -> set[str]:
    lines = (ROOT / name).read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_secrets_stay_out_of_git_and_out_of_the_build_context():
    for name in (".gitignore", ".dockerignore"):
        patterns = ignore_patterns(name)
        assert ".env" in patterns, f"{name} does not ignore .env"
        assert "config.toml" in patterns, f"{name} does not ignore config.toml"
    docker = ignore_patterns(".dockerignore")
    assert {"build", "*.egg-info", "*.db", ".git"} <= docker


def test_the_container_checks_world_drives_a_sora_to_a_delivered_mp4(tmp_path):
    """``container_world.py world`` against ``python -m bot run`` on this machine."""
    ports = [_free_port() for _ in range(2)]
    world = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "container_world.py"), "world",
         "--discord-port", str(ports[0]), "--upstream-port", str(ports[1]),
         "--token", BOT_TOKEN, "--api-key", API_KEY, "--timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(), cwd=tmp_path,
    )  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base = "http://127.0.0.1:{ports[0]}"\n'
        f'gateway_url = "ws://127.0.0.1:{ports[0]}/gateway"\n'
        "[poller]\ntick_seconds = 0.2\nfirst_poll_seconds = 0.5\nmin_interval_seconds = 0.3\n"
    )
    bot_env = _env(
        DISCORD_TOKEN=BOT_TOKEN,
        SORA_API_KEY=API_KEY,
        SORA_API_BASE=f"http://127.0.0.1:{ports[1]}/v1",
        SORA_BOT_DB=str(tmp_path / "bot.db"),
        SORA_BOT_MEDIA=str(tmp_path / "media"),
    )
    bot = None
    try:
        assert world.stdout is not None
        assert world.stdout.readline().startswith("world ready")
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=bot_env, cwd=tmp_path,
        )  # fmt: skip
        assert world.stdout.readline().strip() == "bot connected"
        delivered = world.stdout.readline().split()
    finally:
        for process in (bot, world):
            if process is not None:
                process.terminate()
                process.wait(timeout=15)
    assert delivered[0] == "delivered", delivered
    task_id = delivered[1].removeprefix("task=")
    assert delivered[2] == f"file={task_id}.mp4"
    row = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "container_world.py"), "task",
         str(tmp_path / "bot.db"), task_id],
        capture_output=True, text=True, env=_env(), check=True,
    )  # fmt: skip
    assert row.stdout.strip() == f"task {task_id}: status=completed delivery_state=delivered"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
