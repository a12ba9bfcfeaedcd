public import Foundation
public import LiaisonModel
internal import LiaisonSealing
public import LiaisonStore
internal import Logging
internal import PostgresNIO

/// The batch forms the federation services use (see the SQLite back end).
extension PostgresStore {
    /// As SQLite's `v4-federation`: a refused envelope's bytes only, the
    /// ledger entry of each envelope, the tree heads of receipts.
    static let federationMigration = """
        ALTER TABLE inbox ALTER COLUMN envelope DROP NOT NULL;
        ALTER TABLE inbox ADD COLUMN ledger_index BIGINT CHECK (ledger_index >= 0);
        ALTER TABLE inbox ADD CHECK (state <> 'pending' OR envelope IS NOT NULL);
        CREATE TABLE peer_tree_heads (
            party TEXT NOT NULL REFERENCES peers (party),
            size BIGINT NOT NULL CHECK (size >= 0),
            signed BYTEA NOT NULL CHECK (length(signed) > 0),
            PRIMARY KEY (party, size)
        );
        CREATE TABLE statement_outbox (
            id BIGSERIAL PRIMARY KEY,
            peer TEXT NOT NULL REFERENCES peers (party),
            kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 6),
            signed BYTEA NOT NULL CHECK (length(signed) > 0),
            item_id BYTEA CHECK (length(item_id) = 16),
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
            owner TEXT,
            lease_until BIGINT,
            queued_at BIGINT NOT NULL,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            not_before BIGINT NOT NULL,
            last_error TEXT,
            receipt BYTEA,
            CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
            CHECK ((state = 'done') = (receipt IS NOT NULL))
        );
        CREATE INDEX statement_outbox_due ON statement_outbox (peer, state, not_before);
        CREATE TABLE received_statements (
            peer TEXT NOT NULL CHECK (length(peer) = 3),
            digest BYTEA NOT NULL CHECK (length(digest) = 32),
            ledger_index BIGINT NOT NULL CHECK (ledger_index >= 0),
            PRIMARY KEY (peer, digest)
        )
        """

    public func inboundState(peer: Party, sequences: [Int64], itemIDs: [[UInt8]]) async throws(StoreError) -> InboundState {
        try await read { c, logger in
            var records: [Int64: InboundRecord] = [:]
            if !sequences.isEmpty {
                for r in try await Self.rows(
                    c,
                    """
                    SELECT link_seq, digest, state, reason, item_id, ledger_index FROM inbox
                    WHERE peer = \(peer.code) AND link_seq = ANY(\(sequences))
                    """, logger)
                {
                    guard let state = QueueState(rawValue: try r["state"].decode(String.self)) else { throw StoreError(.corrupt, "unknown inbox state") }
                    let seq = try r["link_seq"].decode(Int64.self)
                    records[seq] = InboundRecord(
                        linkSequence: seq, digest: Array(try r["digest"].decode(Data.self)), state: state, reason: try r["reason"].decode(String?.self),
                        itemID: try r["item_id"].decode(Data?.self).map { Array($0) }, ledgerIndex: try r["ledger_index"].decode(Int64?.self).map { Int($0) })
                }
            }
            var held = Set<[UInt8]>()
            if !itemIDs.isEmpty {
                let hex = itemIDs.map { Hex.encode($0) }
                for r in try await Self.rows(c, "SELECT id FROM items WHERE id = ANY(SELECT decode(x, 'hex') FROM unnest(\(hex)) AS x)", logger) {
                    held.insert(Array(try r["id"].decode(Data.self)))
                }
            }
            return InboundState(records: records, held: held)
        }
    }

    public func recordInbound(_ records: [NewInbound], items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.inbound(records, entries: ledger.entries.count)
        var rows: ItemRows?
        if !items.isEmpty {
            try NodeRules.items(items)
            rows = ItemRows(items, key: try NodeRules.storageKey(storageKey))
        }
        return try await transaction(ledger, sequenced: true) { [rows] c, logger in
            // The sequencer lock is held: the ledger's size is where this act's entries start.
            let first = try await Self.size(c, logger)
            if let rows { try await Self.insertItems(c, rows, logger) }
            // All records in one statement (bytes as hex text arrays; an
            // empty text stands for none): a round trip per record had bound
            // a batch to the network's latency.
            var peers: [String] = [], sequences: [Int64] = [], digests: [String] = [], envelopes: [String] = [], at: [Int64] = []
            var states: [String] = [], reasons: [String] = [], itemIDs: [String] = [], indices: [Int64] = []
            for r in records {
                peers.append(r.peer.code)
                sequences.append(r.linkSequence)
                digests.append(Hex.encode(r.digest))
                at.append(Self.ms(r.at))
                indices.append(Int64(first + r.ledgerOffset))
                switch r.outcome {
                case .accepted(let id):
                    states.append("done")
                    reasons.append("")
                    envelopes.append("")
                    itemIDs.append(Hex.encode(id))
                case .refused(let why, let bytes):
                    states.append("refused")
                    reasons.append(why)
                    envelopes.append(Hex.encode(bytes))
                    itemIDs.append("")
                }
            }
            let inserted = try await Self.rows(
                c,
                """
                INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state, reason, item_id, ledger_index)
                SELECT p, s, decode(d, 'hex'), CASE WHEN e = '' THEN NULL ELSE decode(e, 'hex') END, a, st,
                    CASE WHEN st = 'refused' THEN r END, CASE WHEN i = '' THEN NULL ELSE decode(i, 'hex') END, li
                FROM unnest(\(peers)::text[], \(sequences)::bigint[], \(digests)::text[], \(envelopes)::text[], \(at)::bigint[], \(states)::text[],
                    \(reasons)::text[], \(itemIDs)::text[], \(indices)::bigint[]) AS t(p, s, d, e, a, st, r, i, li)
                ON CONFLICT (peer, link_seq) DO NOTHING RETURNING peer, link_seq
                """, logger)
            if inserted.count < records.count {
                var recorded = Set<String>()
                for row in inserted { recorded.insert("\(try row["peer"].decode(String.self)) \(try row["link_seq"].decode(Int64.self))") }
                guard let repeated = records.first(where: { !recorded.contains("\($0.peer.code) \($0.linkSequence)") }) else {
                    throw StoreError(.duplicate, "a link sequence of the batch is already recorded")
                }
                throw StoreError(.duplicate, "\(repeated.peer) link sequence \(repeated.linkSequence) is already recorded")
            }
        }.1
    }

    public func settleOutbox(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite, peerHeads: [PeerHead]) async throws(StoreError)
        -> LedgerReceipt
    {
        try await settle("outbox", "outbox task", outcomes, owner: owner, ledger: ledger, peerHeads: peerHeads)
    }

    /// Settles tasks of a work queue (`outbox`, `statement_outbox`) its owner
    /// holds, locked in id order; one it does not hold refuses the whole settlement.
    func settle(
        _ table: String, _ what: String, _ outcomes: [SettledTask], owner: String, ledger: LedgerWrite, peerHeads: [PeerHead] = []
    ) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.settled(outcomes)
        for h in peerHeads { try NodeRules.peerHead(h) }
        return try await transaction(ledger) { c, logger in
            let ids = outcomes.map(\.id)
            var current: [Int64: (QueueState, String?, String)] = [:]
            for r in try await Self.rows(c, "SELECT id, state, owner, peer FROM \(unescaped: table) WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE", logger) {
                guard let s = QueueState(rawValue: try r["state"].decode(String.self)) else { throw StoreError(.corrupt, "unknown \(what) state") }
                current[try r["id"].decode(Int64.self)] = (s, try r["owner"].decode(String?.self), try r["peer"].decode(String.self))
            }
            var tally: [String: OutboxTally] = [:]
            // Every task checked first; then all of them changed by one
            // statement (a round trip per task had bound a batch to its
            // network latency: about 4,000 tasks/s on loopback).
            var states: [String] = [], receipts: [String] = [], errors: [String] = [], due: [Int64] = []
            for o in outcomes {
                guard let (state, holder, peer) = current[o.id] else { throw StoreError(.notFound, "no \(what) \(o.id)") }
                try NodeRules.settleable(state, owner: holder, by: owner, what: "\(what) \(o.id)")
                let settled: (state: String, receipt: String, error: String, due: Int64) =
                    switch o.outcome {
                    case .delivered(let receipt): ("done", Hex.encode(receipt), "", 0)
                    case .retry(let error, let notBefore): ("pending", "", error, Self.ms(notBefore))
                    case .refused(let reason): ("refused", "", reason, 0)
                    }
                states.append(settled.state)
                receipts.append(settled.receipt)
                errors.append(settled.error)
                due.append(settled.due)
                tally[peer, default: OutboxTally()].add(o.outcome)
            }
            let changed = try await Self.rows(
                c,
                """
                UPDATE \(unescaped: table) AS q SET state = t.state, owner = NULL, lease_until = NULL,
                    receipt = CASE WHEN t.state = 'done' THEN decode(t.receipt, 'hex') END,
                    last_error = CASE WHEN t.state = 'done' THEN NULL ELSE t.error END,
                    not_before = CASE WHEN t.state = 'pending' THEN t.due ELSE q.not_before END
                FROM unnest(\(ids)::bigint[], \(states)::text[], \(receipts)::text[], \(errors)::text[], \(due)::bigint[]) AS t(id, state, receipt, error, due)
                WHERE q.id = t.id
                RETURNING q.id
                """, logger)
            guard changed.count == outcomes.count else {
                throw StoreError(.conflict, "\(outcomes.count - changed.count) of \(outcomes.count) tasks could not be settled")
            }
            // The peers' rows after the tasks' (as a single settlement locks them): heads, then tallies.
            for h in peerHeads {
                _ = try await c.query(
                    "INSERT INTO peer_tree_heads (party, size, signed) VALUES (\(h.party.code), \(Int64(h.size)), \(Data(h.signed))) ON CONFLICT DO NOTHING",
                    logger: logger
                ).collect()
                _ = try await c.query(
                    """
                    UPDATE peers SET tree_size = \(Int64(h.size)), tree_head = \(Data(h.signed)), tree_at = \(Self.ms(h.at))
                    WHERE party = \(h.party.code) AND (tree_size IS NULL OR tree_size < \(Int64(h.size)))
                    """, logger: logger
                ).collect()
            }
            if table == "outbox" { try await Self.tally(c, tally, logger) }
        }.1
    }

    /// The items in one snapshot and two queries (rows, then each origin
    /// root once: a root with its signature is 3 KB), checked together
    /// (``NodeRules/storedItems(_:key:)``), in the order asked.
    public func items(_ ids: [[UInt8]]) async throws(StoreError) -> [StoredItem] {
        guard !ids.isEmpty else { return [] }
        let key = try NodeRules.storageKey(storageKey)
        let hex = ids.map { Hex.encode($0) }
        typealias Found = (holding: LiaisonStore.Holding, manifest: ItemManifest, root: Data, index: Int, path: Data, payload: Data?)
        let (found, roots) = try await read { c, logger -> ([Found], [Data: Data]) in
            let found = try await Self.rows(
                c,
                """
                SELECT \(unescaped: Self.holdingColumns), seal_root, seal_index, seal_path, payload FROM items
                WHERE id = ANY(SELECT decode(x, 'hex') FROM unnest(\(hex)) AS x)
                """, logger
            ).map { r -> Found in
                let (h, m) = try Self.holdingAndManifest(r)
                return (
                    h, m, try r["seal_root"].decode(Data.self), Int(try r["seal_index"].decode(Int64.self)), try r["seal_path"].decode(Data.self),
                    try r["payload"].decode(Data?.self)
                )
            }
            let digests = Array(Set(found.map { Hex.encode($0.root) }))
            var roots: [Data: Data] = [:]
            for r in try await Self.rows(
                c, "SELECT digest, root FROM origin_roots WHERE digest = ANY(SELECT decode(x, 'hex') FROM unnest(\(digests)) AS x)", logger)
            {
                roots[try r["digest"].decode(Data.self)] = try r["root"].decode(Data.self)
            }
            return (found, roots)
        }
        let byID = Dictionary(found.map { ($0.holding.itemID, $0) }, uniquingKeysWith: { a, _ in a })
        var decoded: [Data: OriginRoot] = [:]
        var rows: [NodeRules.StoredRow] = []
        rows.reserveCapacity(ids.count)
        for id in ids {
            guard let f = byID[id] else { throw StoreError(.notFound, "no item \(Hex.encode(id))") }
            let root: OriginRoot
            if let known = decoded[f.root] {
                root = known
            } else {
                guard let bytes = roots[f.root] else {
                    throw StoreError(.corrupt, "item \(Hex.encode(id)) names an origin root this store does not hold")
                }
                root = try NodeRules.decode(Array(bytes), "origin root")
                decoded[f.root] = root
            }
            rows.append(
                NodeRules.StoredRow(
                    holding: f.holding, manifest: f.manifest, root: root, index: f.index, path: Array(f.path), tree: nil, payload: f.payload.map { Array($0) }))
        }
        return try NodeRules.storedItems(rows, key: key)
    }

    public func holdings(_ ids: [[UInt8]]) async throws(StoreError) -> [LiaisonStore.Holding] {
        guard !ids.isEmpty else { return [] }
        let hex = ids.map { Hex.encode($0) }
        let found = try await read { c, logger in
            try await Self.rows(
                c, "SELECT \(unescaped: Self.holdingColumns) FROM items WHERE id = ANY(SELECT decode(x, 'hex') FROM unnest(\(hex)) AS x)", logger
            ).map { try Self.holdingAndManifest($0).0 }
        }
        let byID = Dictionary(found.map { ($0.itemID, $0) }, uniquingKeysWith: { a, _ in a })
        return try ids.map { id throws(StoreError) in
            guard let h = byID[id] else { throw StoreError(.notFound, "no item \(Hex.encode(id))") }
            return h
        }
    }

    public func outboxSummary(peer: Party) async throws(StoreError) -> OutboxSummary {
        try await read { c, logger in
            // Waiting and in flight counted; delivered and refused tallied
            // as they settle (they grow with every item ever sent). One
            // statement, so that the counts and the tallies are of one moment.
            var counts: [QueueState: Int] = [:]
            var oldest: Int64?
            if let r = try await Self.rows(
                c,
                """
                SELECT outbox_done, outbox_refused,
                    (SELECT count(*) FROM outbox WHERE peer = \(peer.code) AND state = 'pending') AS pending,
                    (SELECT count(*) FROM outbox WHERE peer = \(peer.code) AND state = 'claimed') AS claimed,
                    LEAST((SELECT min(not_before) FROM outbox WHERE peer = \(peer.code) AND state = 'pending'),
                        (SELECT min(not_before) FROM outbox WHERE peer = \(peer.code) AND state = 'claimed')) AS oldest
                FROM peers WHERE party = \(peer.code)
                """, logger
            ).first {
                for (state, column) in [(QueueState.done, "outbox_done"), (.refused, "outbox_refused"), (.pending, "pending"), (.claimed, "claimed")] {
                    let n = try r[column].decode(Int64.self)
                    if n > 0 { counts[state] = Int(n) }
                }
                oldest = try r["oldest"].decode(Int64?.self)
            }
            let lastError = try await Self.rows(
                c,
                """
                SELECT last_error FROM outbox WHERE peer = \(peer.code) AND last_error IS NOT NULL AND state IN ('pending', 'claimed', 'refused')
                ORDER BY id DESC LIMIT 1
                """, logger
            ).first.map { try $0["last_error"].decode(String.self) }
            return OutboxSummary(counts: counts, oldestWaiting: oldest.map(Self.date), lastError: lastError)
        }
    }

    public func keepPeerTreeHead(_ party: Party, size: Int, signed: [UInt8]) async throws(StoreError) {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        try NodeRules.blob(signed, "the tree head", max: NodeRules.maximumEvidenceBytes)
        _ = try await transaction(.none) { c, logger in
            guard try await !Self.rows(c, "SELECT 1 FROM peers WHERE party = \(party.code)", logger).isEmpty else {
                throw StoreError(.notFound, "no peer \(party)")
            }
            _ = try await c.query(
                "INSERT INTO peer_tree_heads (party, size, signed) VALUES (\(party.code), \(Int64(size)), \(Data(signed))) ON CONFLICT DO NOTHING",
                logger: logger
            ).collect()
        }
    }

    public func peerTreeHead(_ party: Party, size: Int) async throws(StoreError) -> [UInt8]? {
        try await read { c, logger in
            try await Self.rows(c, "SELECT signed FROM peer_tree_heads WHERE party = \(party.code) AND size = \(Int64(size))", logger)
                .first.map { Array(try $0["signed"].decode(Data.self)) }
        }
    }

    // MARK: Statements to send

    static let statementColumns = "id, peer, kind, signed, item_id, state, queued_at, attempts, last_error, receipt"

    static func statementTask(_ r: PostgresRandomAccessRow) throws -> StatementTask {
        guard let state = QueueState(rawValue: try r["state"].decode(String.self)) else { throw StoreError(.corrupt, "unknown statement state") }
        return StatementTask(
            id: try r["id"].decode(Int64.self), peer: try NodeRules.party(try r["peer"].decode(String.self)), kind: Int(try r["kind"].decode(Int32.self)),
            signed: Array(try r["signed"].decode(Data.self)), itemID: try r["item_id"].decode(Data?.self).map { Array($0) }, state: state,
            queuedAt: date(try r["queued_at"].decode(Int64.self)), attempts: Int(try r["attempts"].decode(Int32.self)),
            lastError: try r["last_error"].decode(String?.self), receipt: try r["receipt"].decode(Data?.self).map { Array($0) })
    }

    public func enqueueStatements(_ requests: [StatementRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [StatementTask] {
        try NodeRules.statementRequests(requests)
        try NodeRules.instant(at, "the instant")
        return try await transaction(ledger) { c, logger in try await Self.insertStatements(c, requests, at: at, logger) }.0
    }

    /// Queues statements inside a transaction (each peer must be known).
    static func insertStatements(_ c: PostgresConnection, _ requests: [StatementRequest], at: Date, _ logger: Logger) async throws -> [StatementTask] {
        var out: [StatementTask] = []
        for r in requests {
            guard try await !Self.rows(c, "SELECT 1 FROM peers WHERE party = \(r.peer.code)", logger).isEmpty else {
                throw StoreError(.notFound, "no peer \(r.peer)")
            }
            let item = r.itemID.map { Data($0) }
            out.append(
                try Self.statementTask(
                    try await Self.rows(
                        c,
                        """
                        INSERT INTO statement_outbox (peer, kind, signed, item_id, state, queued_at, attempts, not_before)
                        VALUES (\(r.peer.code), \(Int32(r.kind)), \(Data(r.signed)), \(item), 'pending', \(Self.ms(at)), 0, \(Self.ms(at)))
                        RETURNING \(unescaped: Self.statementColumns)
                        """, logger)[0]))
        }
        return out
    }

    public func claimStatements(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [StatementTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        return try await transaction(.none) { c, logger in
            try await Self.rows(c, Self.claim("statement_outbox", Self.statementColumns, peer: peer, owner: owner, limit: limit, now: t, until: until), logger)
                .map(Self.statementTask).sorted { $0.id < $1.id }
        }.0
    }

    public func settleStatements(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try await settle("statement_outbox", "statement task", outcomes, owner: owner, ledger: ledger)
    }

    public func unacknowledgedStatements(peer: Party?) async throws(StoreError) -> [StatementTask] {
        try await read { c, logger in
            let query: PostgresQuery =
                if let peer {
                    "SELECT \(unescaped: Self.statementColumns) FROM statement_outbox WHERE state IN ('pending', 'claimed') AND peer = \(peer.code) ORDER BY id"
                } else {
                    "SELECT \(unescaped: Self.statementColumns) FROM statement_outbox WHERE state IN ('pending', 'claimed') ORDER BY id"
                }
            return try await Self.rows(c, query, logger).map(Self.statementTask)
        }
    }

    public func statementTask(_ id: Int64) async throws(StoreError) -> StatementTask {
        let task = try await read { c, logger in
            try await Self.rows(c, "SELECT \(unescaped: Self.statementColumns) FROM statement_outbox WHERE id = \(id)", logger).first.map(Self.statementTask)
        }
        guard let task else { throw StoreError(.notFound, "no statement task \(id)") }
        return task
    }

    public func statementReceipt(peer: Party, digest: [UInt8]) async throws(StoreError) -> Int? {
        try await read { c, logger in
            try await Self.rows(c, "SELECT ledger_index FROM received_statements WHERE peer = \(peer.code) AND digest = \(Data(digest))", logger)
                .first.map { Int(try $0["ledger_index"].decode(Int64.self)) }
        }
    }

    public func keepStatementReceipt(peer: Party, digest: [UInt8], ledgerIndex: Int) async throws(StoreError) {
        try NodeRules.digest(digest, "the statement digest")
        guard ledgerIndex >= 0 else { throw StoreError(.invalidInput, "a ledger index is not negative") }
        _ = try await transaction(.none) { c, logger in
            _ = try await c.query(
                "INSERT INTO received_statements (peer, digest, ledger_index) VALUES (\(peer.code), \(Data(digest)), \(Int64(ledgerIndex))) ON CONFLICT DO NOTHING",
                logger: logger
            ).collect()
        }
    }
}
