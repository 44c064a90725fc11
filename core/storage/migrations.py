"""Every schema change, as a named migration (sqlite_utils.Migrations); never edit one that shipped."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from sqlite_utils import Database, Migrations

from core.text import clean_name

migrations = Migrations("collateral-bot")


@migrations(name="0001_owners_positions_legs")
def _owners_positions_legs(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE owners (
            key TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            kind TEXT NOT NULL,
            external_id TEXT NOT NULL,
            next_number INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE positions (
            id INTEGER PRIMARY KEY,
            owner_key TEXT NOT NULL REFERENCES owners(key) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            protocol TEXT NOT NULL,
            market TEXT,
            overrides TEXT NOT NULL DEFAULT '{}',
            label TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (owner_key, number)
        );
        CREATE TABLE legs (
            id INTEGER PRIMARY KEY,
            position_id INTEGER NOT NULL REFERENCES positions(id) ON DELETE CASCADE,
            side TEXT NOT NULL CHECK (side IN ('collateral', 'debt')),
            asset TEXT NOT NULL,
            amount TEXT NOT NULL
        );
        CREATE INDEX legs_position ON legs(position_id);
        CREATE INDEX legs_asset ON legs(asset);
        """
    )


@migrations(name="0002_price_history")
def _price_history(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE price_ticks (
            asset TEXT NOT NULL,
            ts INTEGER NOT NULL,
            price REAL NOT NULL
        );
        CREATE INDEX price_ticks_asset_ts ON price_ticks(asset, ts);
        CREATE TABLE price_hourly (
            asset TEXT NOT NULL,
            hour INTEGER NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            PRIMARY KEY (asset, hour)
        );
        """
    )


@migrations(name="0003_alerts_outbox_routing")
def _alerts_outbox_routing(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE owners ADD COLUMN alerts_enabled INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE owners ADD COLUMN display_name TEXT;
        CREATE TABLE alert_settings (
            position_id INTEGER PRIMARY KEY REFERENCES positions(id) ON DELETE CASCADE,
            warn REAL,
            critical REAL,
            enabled INTEGER NOT NULL DEFAULT 1,
            snoozed_until REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE alert_state (
            position_id INTEGER PRIMARY KEY REFERENCES positions(id) ON DELETE CASCADE,
            level INTEGER NOT NULL,
            since REAL NOT NULL,
            last_sent REAL NOT NULL,
            told INTEGER NOT NULL
        );
        CREATE TABLE watches (
            chat_key TEXT NOT NULL,
            number INTEGER NOT NULL,
            position_id INTEGER NOT NULL REFERENCES positions(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            PRIMARY KEY (chat_key, number),
            UNIQUE (position_id, chat_key)
        );
        CREATE INDEX watches_position ON watches(position_id);
        CREATE TABLE destinations (
            chat_key TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            is_group INTEGER NOT NULL,
            title TEXT,
            disabled_reason TEXT,
            disabled_at REAL
        );
        CREATE TABLE chat_outages (
            chat_key TEXT PRIMARY KEY,
            assets TEXT NOT NULL,
            since REAL NOT NULL
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            chat_key TEXT NOT NULL,
            created_at REAL NOT NULL,
            urgency REAL NOT NULL,
            critical INTEGER NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            sent_at REAL
        );
        CREATE INDEX outbox_pending ON outbox(status, urgency, id);
        CREATE TABLE price_state (
            asset TEXT PRIMARY KEY,
            price REAL NOT NULL,
            at REAL NOT NULL,
            sources TEXT NOT NULL
        );
        CREATE TABLE kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@migrations(name="0004_yields_and_borrow_rates")
def _yields_and_borrow_rates(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE positions ADD COLUMN borrow_apr REAL;
        CREATE TABLE yield_pools (
            pool TEXT PRIMARY KEY,
            chain TEXT NOT NULL,
            project TEXT NOT NULL,
            symbol TEXT NOT NULL,
            tvl_usd REAL NOT NULL,
            apy_base REAL,
            apy_reward REAL,
            apy REAL NOT NULL,
            apy_mean_30d REAL,
            stablecoin INTEGER NOT NULL,
            il_risk INTEGER NOT NULL,
            exposure TEXT NOT NULL,
            outlier INTEGER NOT NULL,
            fetched_at REAL NOT NULL
        );
        CREATE INDEX yield_pools_symbol ON yield_pools(symbol);
        """
    )


@migrations(name="0005_borrow_rates_from_lending_data")
def _borrow_rates_from_lending_data(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE yield_pools ADD COLUMN pool_meta TEXT;
        ALTER TABLE yield_pools ADD COLUMN borrow_base REAL;
        ALTER TABLE yield_pools ADD COLUMN borrow_reward REAL;
        """
    )


@migrations(name="0006_reminder_cap_watch_numbers_buttons")
def _reminder_cap_watch_numbers_buttons(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE alert_settings ADD COLUMN remind_cap REAL;
        ALTER TABLE destinations ADD COLUMN next_watch INTEGER NOT NULL DEFAULT 1;
        UPDATE destinations SET next_watch = coalesce((SELECT max(number) + 1 FROM watches w
                                                        WHERE w.chat_key = destinations.chat_key), 1);
        CREATE TABLE buttons (
            token TEXT PRIMARY KEY,
            chat_key TEXT NOT NULL,
            message_id TEXT,
            command TEXT,
            presser TEXT,
            position_id INTEGER,
            scope TEXT,
            expires_at REAL NOT NULL
        );
        CREATE INDEX buttons_expiry ON buttons(expires_at);
        """
    )
    # Names are cleaned when written from now on; clean those written before once, so no read has to.
    for table, key, column, limit in (("owners", "key", "display_name", 40), ("destinations", "chat_key", "title", 80)):
        rows = db.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
        db.conn.executemany(f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                            [(clean_name(value, limit) or None, k) for k, value in rows if clean_name(value, limit) != value])


@migrations(name="0007_chain_links")
def _chain_links(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE chain_links (
            position_id INTEGER PRIMARY KEY REFERENCES positions(id) ON DELETE CASCADE,
            chain TEXT NOT NULL,
            lender TEXT NOT NULL,
            address TEXT NOT NULL,
            market_ref TEXT,
            ens TEXT,
            reading TEXT,
            read_at REAL
        );
        CREATE INDEX chain_links_by_chain ON chain_links(chain, lender);
        """
    )


@migrations(name="0008_chain_events")
def _chain_events(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE chain_events (
            chain TEXT NOT NULL,
            tx TEXT NOT NULL,
            log_index INTEGER NOT NULL,
            position_id INTEGER NOT NULL REFERENCES positions(id) ON DELETE CASCADE,
            block INTEGER NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            told INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (chain, tx, log_index, position_id)
        );
        CREATE INDEX chain_events_untold ON chain_events(told) WHERE told = 0;
        CREATE TABLE chain_scans (chain TEXT PRIMARY KEY, block INTEGER NOT NULL);
        """
    )


@migrations(name="0009_redemption_line")
def _redemption_line(db: Database) -> None:
    # A Liquity v2 trove's redemption warning: the share of its branch's debt that must stand in front (NULL: 5 %).
    db.execute("ALTER TABLE alert_settings ADD COLUMN redemption REAL")


@migrations(name="0010_mining")
def _mining(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE fleets (
            id INTEGER PRIMARY KEY,
            owner_key TEXT NOT NULL REFERENCES owners(key) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            hashrate_th REAL NOT NULL,
            efficiency_j_th REAL NOT NULL,
            power_usd_kwh REAL NOT NULL,
            pool_fee REAL NOT NULL,
            loan_position_id INTEGER REFERENCES positions(id) ON DELETE SET NULL,
            pledge REAL NOT NULL DEFAULT 0,
            losing INTEGER NOT NULL DEFAULT 0,
            call_ahead INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            UNIQUE (owner_key, number)
        );
        CREATE TABLE mining_network (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, fetched_at REAL NOT NULL,
                                     source TEXT NOT NULL);
        """
    )


class NewerDatabase(Exception):
    """The database was written by a newer collateral-bot: it holds migrations this version does not know."""


def check_known(db: Database, where: str = "the database") -> None:
    """Refuse a database that a newer version migrated: every command would then fail on a schema it does not know."""
    known = [m.name for m in migrations._migrations]
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        try:
            mine = f"collateral-bot {version('collateral-bot')}"
        except PackageNotFoundError:  # run from a source tree that was never installed
            mine = "this collateral-bot"
        raise NewerDatabase(f"{where} was written by a newer collateral-bot (it has migration {unknown[-1]}; "
                            f"{mine} knows up to {known[-1]}): upgrade collateral-bot, or restore an older backup")


def migrate(db: Database, where: str = "the database") -> list[str]:
    """Apply pending migrations; returns the names applied. Safe to re-run after a crash."""
    check_known(db, where)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
