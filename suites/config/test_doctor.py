"""The compose doctor's rules (fixtures/doctor.py) over the running target's declared config:
the files and env file it was started with, overrides included."""

from __future__ import annotations

import pytest

from fixtures.doctor import Facts, Render, check
from fixtures.stack import ComposeStack

pytestmark = pytest.mark.config


def test_the_declared_config_has_no_doctor_finding(compose_stack: ComposeStack) -> None:
    files = compose_stack.config_files()
    profile = Render(files[0].name, compose_stack.profile.name)
    findings = check(compose_stack.declared_config(), profile, Facts.load(), file=",".join(f.name for f in files))
    assert not findings, "\n".join(map(str, findings))
