"""The database's schema, as numbered migrations.

`PRAGMA user_version` holds the number of migrations applied. At open, the
missing ones run in order, each in its own transaction; a database whose
version is higher than `LATEST` was written by a newer node and is refused
rather than guessed at. Add a migration by appending to `MIGRATIONS`; never
edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the peg-out and federation state of the first release.
    """
    CREATE TABLE pegouts (
        request_id TEXT PRIMARY KEY,
        tx_hex TEXT NOT NULL,
        input_indices TEXT NOT NULL,          -- JSON list
        amounts TEXT NOT NULL,                -- JSON list
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        signatures_required INTEGER NOT NULL,
        signatures_collected INTEGER NOT NULL,
        error TEXT,
        signed_tx_hex TEXT,
        txid TEXT,
        failures TEXT NOT NULL,               -- JSON list of reasons
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        revision INTEGER NOT NULL
    );
    CREATE INDEX pegouts_by_state ON pegouts (state);
    CREATE TABLE pegins (
        request_id TEXT PRIMARY KEY,
        btc_txid TEXT NOT NULL,
        vout INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        evm_address TEXT NOT NULL,
        confirmations INTEGER NOT NULL,
        acknowledged INTEGER NOT NULL,
        created_at REAL NOT NULL,
        revision INTEGER NOT NULL
    );
    CREATE TABLE federations (
        version INTEGER PRIMARY KEY,
        update_type TEXT NOT NULL,
        members TEXT NOT NULL,                -- JSON list of [member_id, key hex, weight, active]
        threshold INTEGER NOT NULL,
        effective_height INTEGER NOT NULL,
        witness_script BLOB NOT NULL,
        address TEXT NOT NULL,
        state TEXT NOT NULL,
        request_id TEXT,
        recorded_at REAL NOT NULL,
        revision INTEGER NOT NULL
    );
    CREATE TABLE proposals (
        proposal_id TEXT PRIMARY KEY,
        proposal_type TEXT NOT NULL,
        data BLOB NOT NULL,
        voting_deadline INTEGER NOT NULL,
        required_votes INTEGER NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE TABLE inbound_handled (
        request_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (owner, request_id)
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        revision INTEGER NOT NULL
    );
    """,
    # 2: a peg-out's attempt series (RetryPegout starts a new one): the answers that spent
    # a retry in it, and when it began (0: at created_at).
    """
    ALTER TABLE pegouts ADD COLUMN series_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pegouts ADD COLUMN series_started_at REAL NOT NULL DEFAULT 0;
    UPDATE pegouts SET series_failures = json_array_length(failures);
    """,
    # 3: what a start loads, and what retention prunes, found by index rather than by a
    # scan of every row ever written: the unacknowledged peg-ins, handled ids and
    # proposals by age.
    """
    CREATE INDEX pegins_unacknowledged ON pegins (created_at) WHERE acknowledged = 0;
    CREATE INDEX inbound_handled_by_age ON inbound_handled (owner, at);
    CREATE INDEX proposals_by_age ON proposals (received_at);
    """,
    # 4: at most one payment per peg-out. A peg-out's replacement, payout, fee, what became
    # of its transaction and an operator's resolution; the coins each peg-out holds (one
    # holder per outpoint: the primary key says so); and the peg-outs by the start of their
    # latest series (a RetryPegout counts its payout anew), for the outflow of a recent
    # window. Rows from before count as paying out nothing.
    """
    ALTER TABLE pegouts ADD COLUMN replaces TEXT;
    ALTER TABLE pegouts ADD COLUMN replaced_by TEXT;
    ALTER TABLE pegouts ADD COLUMN payout_sat INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pegouts ADD COLUMN fee_sat INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pegouts ADD COLUMN confirmations INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pegouts ADD COLUMN broadcast_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE pegouts ADD COLUMN resolution TEXT;
    ALTER TABLE pegouts ADD COLUMN resolved_at REAL NOT NULL DEFAULT 0;
    CREATE TABLE reservations (
        outpoint TEXT PRIMARY KEY,            -- <txid hex>:<vout>
        request_id TEXT NOT NULL,             -- the peg-out that holds it
        reserved_at REAL NOT NULL
    );
    CREATE INDEX reservations_by_request ON reservations (request_id);
    CREATE INDEX pegouts_by_age ON pegouts (max(created_at, series_started_at));
    """,
    # 5: Taproot federations (convention 10): a federation's script type, and the
    # federation version whose coins a peg-out spends. A peg-out from before was signed
    # under whatever version was in force at each attempt; it is pinned to the one in
    # force now, so that a later switch (to P2TR, say) cannot move a peg-out still in
    # flight to a script its coins are not at. NULL only where no federation was ever
    # applied (no peg-out could have been accepted then).
    """
    ALTER TABLE federations ADD COLUMN script_type TEXT NOT NULL DEFAULT 'p2wsh';
    ALTER TABLE pegouts ADD COLUMN federation_version INTEGER;
    UPDATE pegouts SET federation_version =
        (SELECT max(version) FROM federations WHERE state = 'applied');
    """,
)

LATEST = len(MIGRATIONS)
