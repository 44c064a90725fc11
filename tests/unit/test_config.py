"""Settings from the environment: defaults, validation in one line, secrets that never print."""

from __future__ import annotations

import pytest

from core.config import ConfigError, Secret, Settings


def test_defaults_need_nothing(tmp_path):
    s = Settings.from_mapping({"DATABASE_PATH": str(tmp_path / "x.db")})
    assert s.price_sources == ("coingecko",) and s.price_interval_seconds == 60
    assert s.telegram_bot_token is None


def test_secrets_are_masked_everywhere():
    s = Settings.from_mapping({"TELEGRAM_BOT_TOKEN": "123:tok-value", "COINGECKO_API_KEY": "CG-key-value",
                               "TELEGRAM_WEBHOOK_SECRET": "hook-value"})
    for shown in (repr(s), str(s.describe())):
        assert "tok-value" not in shown and "key-value" not in shown and "hook-value" not in shown
    assert s.telegram_bot_token.reveal() == "123:tok-value"
    assert str(Secret("x")) == "Secret('***')"


@pytest.mark.parametrize(
    "env, name",
    [
        ({"PRICE_SOURCES": "coingecko,nowhere"}, "PRICE_SOURCES"),
        ({"PRICE_INTERVAL_SECONDS": "soon"}, "PRICE_INTERVAL_SECONDS"),
        ({"PRICE_INTERVAL_SECONDS": "0"}, "PRICE_INTERVAL_SECONDS"),
        ({"COINGECKO_BASE_URL": "ftp://x"}, "COINGECKO_BASE_URL"),
        ({"HTTP_PORT": "99999"}, "HTTP_PORT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_malformed_settings_name_the_variable(env, name):
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping(env)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("PRICE_INTERVAL_SECONDS=30\nCOINGECKO_BASE_URL=http://127.0.0.1:1\n")
    s = Settings.load(env={"PRICE_INTERVAL_SECONDS": "45"}, dotenv=dotenv)
    assert s.price_interval_seconds == 45 and s.coingecko_base_url == "http://127.0.0.1:1"


def test_a_discord_id_keeps_all_its_digits_and_rate_limits_are_whole_numbers():
    s = Settings.from_mapping({"DISCORD_GUILD_ID": "1234567890123456789", "USER_COMMANDS_PER_MINUTE": "0"})
    assert s.discord_guild_id == 1234567890123456789 and s.user_commands_per_minute == 0
    for name, value in (("DISCORD_GUILD_ID", "1.5e18"), ("CHAT_COMMANDS_PER_MINUTE", "-1"), ("HTTP_PORT", "８０")):
        with pytest.raises(ConfigError) as caught:
            Settings.from_mapping({name: value})
        assert name in str(caught.value)


def test_the_alert_webhook_is_masked_like_a_secret():
    s = Settings.from_mapping({"ALERT_WEBHOOK_URL": "https://hooks.example/T000/secret-path"})
    assert "secret-path" not in str(s.describe()) and s.alert_webhook_url.reveal().endswith("secret-path")


@pytest.mark.parametrize("given, used", [
    ("https://discord.example", "https://discord.example/api/v10"),
    ("https://discord.example/", "https://discord.example/api/v10"),
    ("https://discord.example/api", "https://discord.example/api/v10"),
    ("https://discord.example/api/v10", "https://discord.example/api/v10"),
    ("https://discord.example/api/v9/", "https://discord.example/api/v9"),
])
def test_a_discord_root_gets_its_api_version(given, used, tmp_path):
    settings = Settings.from_mapping({"DATABASE_PATH": str(tmp_path / "x.db"), "DISCORD_API_BASE_URL": given})
    assert settings.discord_api_base_url == used


def test_a_database_url_is_a_secret_and_must_name_postgresql():
    s = Settings.from_mapping({"DATABASE_URL": "postgresql://bot:pa55-word@db.internal:5432/bot"})
    assert "pa55-word" not in str(s.describe()) and "pa55-word" not in repr(s)
    assert "pa55-word" in s.secrets()  # the password alone is masked too: a driver's message may quote only it
    assert s.database_target == "postgresql://bot:pa55-word@db.internal:5432/bot"
    assert Settings.from_mapping({}).database_target == Settings.from_mapping({}).database_path  # unset: the file
    for bad in ("mysql://x/y", "sqlite:///x.db", "db.internal"):
        with pytest.raises(ConfigError) as caught:
            Settings.from_mapping({"DATABASE_URL": bad})
        assert "DATABASE_URL" in str(caught.value) and bad not in str(caught.value)


def test_the_database_url_is_masked_where_a_person_reads_it():
    from core.storage.postgres_engine import masked

    assert masked("postgresql://bot:pa55-word@db.internal:5432/bot") == "postgresql://bot:***@db.internal:5432/bot"
    assert masked("postgresql://db.internal/bot") == "postgresql://db.internal/bot"
