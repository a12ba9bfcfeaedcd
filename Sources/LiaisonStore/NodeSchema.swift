/// The node tables of both back ends (migration `v2-node`), kept side by
/// side so that they stay alike: the database itself refuses what breaks a
/// rule (NOT NULL, CHECK, UNIQUE, FOREIGN KEY), not only the code.
///
/// Instants are INTEGER milliseconds since the Unix epoch, as on the wire.
/// An origin seal is stored as its signed root (once per root: a batch of
/// items sealed together shares one, and its signature is kilobytes under
/// hybrid-pq) and the item's index and audit path under it. Items are
/// unique by id; the digest covers the id, so it needs no index of its own
/// (each random-key index costs a page write per insert at scale).
/// Payloads are stored sealed under the node's storage key, never in clear.
///
/// This is the `v2-node` layout. SQLite's `v3-compact-items` migration then
/// drops from `items` what the manifest holds (digest, media type, payload
/// size) and lets a whole origin batch keep one seal tree (`seal_trees`)
/// instead of a path per item: bytes per item are the first cost of a
/// durable batch on one machine.
public enum NodeSchema {
    public static let sqlite = """
        CREATE TABLE origin_roots (
            digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
            root BLOB NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE items (
            seq INTEGER PRIMARY KEY,
            id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
            digest BLOB NOT NULL CHECK (length(digest) = 32),
            manifest BLOB NOT NULL,
            seal_root BLOB NOT NULL REFERENCES origin_roots (digest),
            seal_index INTEGER NOT NULL CHECK (seal_index >= 0),
            seal_path BLOB NOT NULL CHECK (length(seal_path) % 32 = 0),
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            media_type TEXT NOT NULL,
            payload_size INTEGER NOT NULL CHECK (payload_size >= 0),
            payload BLOB,
            source_party TEXT,
            agreement TEXT,
            received_at INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('held', 'destroyed', 'compromised')),
            label BLOB,
            CHECK ((source_party IS NULL) = (agreement IS NULL)),
            CHECK ((status = 'destroyed') = (payload IS NULL))
        ) STRICT;
        CREATE TABLE holding_events (
            id INTEGER PRIMARY KEY,
            item_seq INTEGER NOT NULL REFERENCES items (seq),
            kind TEXT NOT NULL CHECK (kind IN ('reclassified', 'destroyed', 'compromised')),
            at INTEGER NOT NULL,
            evidence BLOB NOT NULL CHECK (length(evidence) > 0)
        ) STRICT;
        CREATE INDEX holding_events_item ON holding_events (item_seq);
        CREATE TABLE peers (
            party TEXT PRIMARY KEY CHECK (length(party) = 3),
            endpoint TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            next_out_seq INTEGER NOT NULL DEFAULT 1 CHECK (next_out_seq >= 1),
            tree_size INTEGER CHECK (tree_size >= 0),
            tree_head BLOB,
            tree_at INTEGER,
            alarm TEXT,
            CHECK ((tree_size IS NULL) = (tree_head IS NULL))
        ) STRICT;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            item_id BLOB NOT NULL REFERENCES items (id),
            peer TEXT NOT NULL REFERENCES peers (party),
            agreement TEXT NOT NULL,
            consents BLOB NOT NULL,
            link_seq INTEGER NOT NULL CHECK (link_seq >= 1),
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until INTEGER,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            not_before INTEGER NOT NULL,
            last_error TEXT,
            receipt BLOB,
            UNIQUE (peer, link_seq),
            UNIQUE (item_id, peer, agreement),
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (receipt IS NOT NULL))
        ) STRICT;
        CREATE INDEX outbox_due ON outbox (peer, state, not_before);
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            peer TEXT NOT NULL CHECK (length(peer) = 3),
            link_seq INTEGER NOT NULL CHECK (link_seq >= 1),
            digest BLOB NOT NULL CHECK (length(digest) = 32),
            envelope BLOB NOT NULL CHECK (length(envelope) > 0),
            received_at INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until INTEGER,
            reason TEXT,
            item_id BLOB REFERENCES items (id),
            UNIQUE (peer, link_seq),
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (item_id IS NOT NULL)),
            CHECK ((state = 'refused') = (reason IS NOT NULL))
        ) STRICT;
        CREATE INDEX inbox_due ON inbox (state, id);
        CREATE TABLE statements (
            digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
            agreement TEXT NOT NULL,
            party TEXT NOT NULL CHECK (length(party) = 3),
            act TEXT NOT NULL,
            at INTEGER NOT NULL,
            signed BLOB NOT NULL CHECK (length(signed) > 0)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX statements_agreement ON statements (agreement, at);
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            party TEXT NOT NULL CHECK (length(party) = 3),
            roles TEXT NOT NULL,
            clearance_level TEXT,
            clearance_expires INTEGER,
            categories TEXT NOT NULL,
            credential BLOB,
            disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
            created_at INTEGER NOT NULL,
            CHECK ((clearance_level IS NULL) = (clearance_expires IS NULL))
        ) STRICT;
        CREATE TABLE sessions (
            token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
            user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL CHECK (expires_at > created_at),
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
        ) STRICT;
        CREATE INDEX sessions_user ON sessions (user_name);
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
            scopes TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
        ) STRICT;
        CREATE INDEX api_tokens_user ON api_tokens (user_name);
        """

    /// The same tables in PostgreSQL's types (BYTEA, BIGINT, BOOLEAN).
    public static let postgres = """
        CREATE TABLE origin_roots (
            digest BYTEA PRIMARY KEY CHECK (length(digest) = 32),
            root BYTEA NOT NULL
        );
        CREATE TABLE items (
            seq BIGSERIAL PRIMARY KEY,
            id BYTEA NOT NULL UNIQUE CHECK (length(id) = 16),
            digest BYTEA NOT NULL CHECK (length(digest) = 32),
            manifest BYTEA NOT NULL,
            seal_root BYTEA NOT NULL REFERENCES origin_roots (digest),
            seal_index BIGINT NOT NULL CHECK (seal_index >= 0),
            seal_path BYTEA NOT NULL CHECK (length(seal_path) % 32 = 0),
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            media_type TEXT NOT NULL,
            payload_size BIGINT NOT NULL CHECK (payload_size >= 0),
            payload BYTEA,
            source_party TEXT,
            agreement TEXT,
            received_at BIGINT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('held', 'destroyed', 'compromised')),
            label BYTEA,
            CHECK ((source_party IS NULL) = (agreement IS NULL)),
            CHECK ((status = 'destroyed') = (payload IS NULL))
        );
        CREATE TABLE holding_events (
            id BIGSERIAL PRIMARY KEY,
            item_seq BIGINT NOT NULL REFERENCES items (seq),
            kind TEXT NOT NULL CHECK (kind IN ('reclassified', 'destroyed', 'compromised')),
            at BIGINT NOT NULL,
            evidence BYTEA NOT NULL CHECK (length(evidence) > 0)
        );
        CREATE INDEX holding_events_item ON holding_events (item_seq);
        CREATE TABLE peers (
            party TEXT PRIMARY KEY CHECK (length(party) = 3),
            endpoint TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            next_out_seq BIGINT NOT NULL DEFAULT 1 CHECK (next_out_seq >= 1),
            tree_size BIGINT CHECK (tree_size >= 0),
            tree_head BYTEA,
            tree_at BIGINT,
            alarm TEXT,
            CHECK ((tree_size IS NULL) = (tree_head IS NULL))
        );
        CREATE TABLE outbox (
            id BIGSERIAL PRIMARY KEY,
            item_id BYTEA NOT NULL REFERENCES items (id),
            peer TEXT NOT NULL REFERENCES peers (party),
            agreement TEXT NOT NULL,
            consents BYTEA NOT NULL,
            link_seq BIGINT NOT NULL CHECK (link_seq >= 1),
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until BIGINT,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            not_before BIGINT NOT NULL,
            last_error TEXT,
            receipt BYTEA,
            UNIQUE (peer, link_seq),
            UNIQUE (item_id, peer, agreement),
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (receipt IS NOT NULL))
        );
        CREATE INDEX outbox_due ON outbox (peer, state, not_before);
        CREATE TABLE inbox (
            id BIGSERIAL PRIMARY KEY,
            peer TEXT NOT NULL CHECK (length(peer) = 3),
            link_seq BIGINT NOT NULL CHECK (link_seq >= 1),
            digest BYTEA NOT NULL CHECK (length(digest) = 32),
            envelope BYTEA NOT NULL CHECK (length(envelope) > 0),
            received_at BIGINT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until BIGINT,
            reason TEXT,
            item_id BYTEA REFERENCES items (id),
            UNIQUE (peer, link_seq),
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (item_id IS NOT NULL)),
            CHECK ((state = 'refused') = (reason IS NOT NULL))
        );
        CREATE INDEX inbox_due ON inbox (state, id);
        CREATE TABLE statements (
            digest BYTEA PRIMARY KEY CHECK (length(digest) = 32),
            agreement TEXT NOT NULL,
            party TEXT NOT NULL CHECK (length(party) = 3),
            act TEXT NOT NULL,
            at BIGINT NOT NULL,
            signed BYTEA NOT NULL CHECK (length(signed) > 0)
        );
        CREATE INDEX statements_agreement ON statements (agreement, at);
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            party TEXT NOT NULL CHECK (length(party) = 3),
            roles TEXT NOT NULL,
            clearance_level TEXT,
            clearance_expires BIGINT,
            categories TEXT NOT NULL,
            credential BYTEA,
            disabled BOOLEAN NOT NULL,
            created_at BIGINT NOT NULL,
            CHECK ((clearance_level IS NULL) = (clearance_expires IS NULL))
        );
        CREATE TABLE sessions (
            token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
            user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL CHECK (expires_at > created_at),
            revoked BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE INDEX sessions_user ON sessions (user_name);
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            token_hash BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
            scopes TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE INDEX api_tokens_user ON api_tokens (user_name);
        """

    /// Consents received by the holder they name (migration `v6-consents`):
    /// one per originator and id, found by the item's digest.
    public static let consentsSQLite = """
        CREATE TABLE consents (
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 200),
            item_digest BLOB NOT NULL CHECK (length(item_digest) = 32),
            holder TEXT NOT NULL CHECK (length(holder) = 3),
            third_party TEXT NOT NULL CHECK (length(third_party) = 3),
            expires_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            signed BLOB NOT NULL CHECK (length(signed) > 0),
            PRIMARY KEY (originator, id)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX consents_item ON consents (item_digest);
        """

    public static let consentsPostgres = """
        CREATE TABLE consents (
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 200),
            item_digest BYTEA NOT NULL CHECK (length(item_digest) = 32),
            holder TEXT NOT NULL CHECK (length(holder) = 3),
            third_party TEXT NOT NULL CHECK (length(third_party) = 3),
            expires_at BIGINT NOT NULL,
            received_at BIGINT NOT NULL,
            signed BYTEA NOT NULL CHECK (length(signed) > 0),
            PRIMARY KEY (originator, id)
        );
        CREATE INDEX consents_item ON consents (item_digest);
        """

    /// Consent requests sent and received (migration `v7-consent-requests`);
    /// the statement queue takes their two statement kinds (7 and 8). SQLite
    /// changes a CHECK by rebuilding the table.
    public static let consentRequestsSQLite = """
        CREATE TABLE statement_outbox_v7 (
            id INTEGER PRIMARY KEY,
            peer TEXT NOT NULL REFERENCES peers (party),
            kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 8),
            signed BLOB NOT NULL CHECK (length(signed) > 0),
            item_id BLOB CHECK (length(item_id) = 16),
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until INTEGER,
            queued_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            not_before INTEGER NOT NULL,
            last_error TEXT,
            receipt BLOB,
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (receipt IS NOT NULL))
        ) STRICT;
        INSERT INTO statement_outbox_v7 SELECT * FROM statement_outbox;
        DROP TABLE statement_outbox;
        ALTER TABLE statement_outbox_v7 RENAME TO statement_outbox;
        CREATE INDEX statement_outbox_due ON statement_outbox (peer, state, not_before);
        CREATE TABLE consent_requests (
            id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
            direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
            holder TEXT NOT NULL CHECK (length(holder) = 3),
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            third_party TEXT NOT NULL CHECK (length(third_party) = 3),
            item_id BLOB NOT NULL CHECK (length(item_id) = 16),
            item_digest BLOB NOT NULL CHECK (length(item_digest) = 32),
            purpose TEXT,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'denied')),
            answer TEXT,
            answered_at INTEGER,
            signed BLOB NOT NULL CHECK (length(signed) > 0),
            CHECK ((state = 'pending') = (answer IS NULL)),
            CHECK ((answer IS NULL) = (answered_at IS NULL))
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX consent_requests_at ON consent_requests (at);
        """

    public static let consentRequestsPostgres = """
        ALTER TABLE statement_outbox DROP CONSTRAINT statement_outbox_kind_check;
        ALTER TABLE statement_outbox ADD CONSTRAINT statement_outbox_kind_check CHECK (kind BETWEEN 1 AND 8);
        CREATE TABLE consent_requests (
            id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
            direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
            holder TEXT NOT NULL CHECK (length(holder) = 3),
            originator TEXT NOT NULL CHECK (length(originator) = 3),
            third_party TEXT NOT NULL CHECK (length(third_party) = 3),
            item_id BYTEA NOT NULL CHECK (length(item_id) = 16),
            item_digest BYTEA NOT NULL CHECK (length(item_digest) = 32),
            purpose TEXT,
            reason TEXT NOT NULL,
            at BIGINT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'denied')),
            answer TEXT,
            answered_at BIGINT,
            signed BYTEA NOT NULL CHECK (length(signed) > 0),
            CHECK ((state = 'pending') = (answer IS NULL)),
            CHECK ((answer IS NULL) = (answered_at IS NULL))
        );
        CREATE INDEX consent_requests_at ON consent_requests (at);
        """

    /// Each peer's outbox tasks delivered and refused, kept as they settle
    /// (migration `v9-outbox-tally`): a peer's sync status reads them
    /// instead of counting its tasks, which grow with every item ever sent.
    /// Counted once here from the tasks already settled (`lock`: a statement
    /// that keeps other writers from settling tasks meanwhile, where they can).
    public static func outboxTally(integer: String, lock: String = "") -> String {
        """
        \(lock)ALTER TABLE peers ADD COLUMN outbox_done \(integer) NOT NULL DEFAULT 0 CHECK (outbox_done >= 0);
        ALTER TABLE peers ADD COLUMN outbox_refused \(integer) NOT NULL DEFAULT 0 CHECK (outbox_refused >= 0);
        UPDATE peers SET
            outbox_done = (SELECT count(*) FROM outbox WHERE outbox.peer = peers.party AND outbox.state = 'done'),
            outbox_refused = (SELECT count(*) FROM outbox WHERE outbox.peer = peers.party AND outbox.state = 'refused');
        """
    }

    /// The outbox tasks that carry an error, newest last (migration
    /// `v10-outbox-errors`): a peer's sync status names the latest. Without
    /// it the status read every task waiting to find one with an error, so a
    /// backlog (a peer out of reach for a day) made each status, read every
    /// second, as slow as the queue was long.
    public static let outboxErrors = """
        CREATE INDEX outbox_errors ON outbox (peer, id) WHERE last_error IS NOT NULL;
        """

    /// The work queues' index in claim order (migration `v8-claim-order`,
    /// PostgreSQL only): a claim takes pending tasks by `not_before, id` and
    /// stops at its limit, which needs `id` in the index for tasks due at
    /// the same instant (a release batch). SQLite's index carries the rowid
    /// last already.
    public static let claimOrderPostgres = """
        DROP INDEX outbox_due;
        CREATE INDEX outbox_due ON outbox (peer, state, not_before, id);
        DROP INDEX statement_outbox_due;
        CREATE INDEX statement_outbox_due ON statement_outbox (peer, state, not_before, id);
        """
}
