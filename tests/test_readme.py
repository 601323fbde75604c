"""The README stays true: its routing example is the shipped file, its table names every setting."""

from __future__ import annotations

from pathlib import Path

from app.delivery import config
from app.settings import ENV_NAMES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_annotated_routing_example_is_the_shipped_file() -> None:
    example = (ROOT / "routing.example.yaml").read_text()
    assert f"```yaml\n{example}```" in README


def test_the_shipped_example_loads() -> None:
    env = {
        name: "x" * 24
        for name in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "ALIYUN_ACCESS_KEY_ID",
            "ALIYUN_ACCESS_KEY_SECRET",
            "TENCENT_SECRET_ID",
            "TENCENT_SECRET_KEY",
            "HUAWEI_APP_KEY",
            "HUAWEI_APP_SECRET",
            "HUAWEI_CALLBACK_TOKEN",
            "GATEWAY_SECRET",
            "SMTP_PASSWORD",
        )
    }
    routing = config.load(ROOT / "routing.example.yaml", env)
    assert routing.scheduling["CN"].use_own_numbers is False
    assert routing.scheduling["DE"].resources[0].provider == "sns"


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in [
        *ENV_NAMES.values(),
        "OTP_ENV",
        "REDIS_URL",
        "OTP_DATA_DIR",
        "OTP_SECRET",
        "OTP_SIGNING_KEY",
    ]:
        assert f"| `{name}` |" in README, name


def test_the_quick_start_commands_exist() -> None:
    assert "sh scripts/serve" in README
    assert "sh scripts/test" in README
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
