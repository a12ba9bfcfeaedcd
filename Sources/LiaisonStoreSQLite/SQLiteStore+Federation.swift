public import Foundation
internal import GRDB
public import LiaisonModel
internal import LiaisonSealing
public import LiaisonStore

/// The batch forms the federation services use: a received batch and the
/// outcomes of a sent one each settle in one transaction.
extension SQLiteStore {
    public func inboundState(peer: Party, sequences: [Int64], itemIDs: [[UInt8]]) async throws(StoreError) -> InboundState {
        try await run { db in
            var records: [Int64: InboundRecord] = [:]
            let bySequence = try db.cachedStatement(
                sql: "SELECT link_seq, digest, state, reason, item_id, ledger_index FROM inbox WHERE peer = ? AND link_seq = ?")
            for seq in sequences {
                guard let row = try Row.fetchOne(bySequence, arguments: [peer.code, seq]) else { continue }
                guard let state = QueueState(rawValue: row["state"]) else { throw StoreError(.corrupt, "unknown inbox state") }
                records[seq] = InboundRecord(
                    linkSequence: seq, digest: Array(row["digest"] as Data), state: state, reason: row["reason"],
                    itemID: (row["item_id"] as Data?).map { Array($0) }, ledgerIndex: row["ledger_index"])
            }
            var held = Set<[UInt8]>()
            let byID = RawStatement(try db.cachedStatement(sql: "SELECT 1 FROM items WHERE id = ?"), db)
            for id in itemIDs {
                byID.bind(1, id)
                if try byID.int64() != nil { held.insert(id) }
            }
            return InboundState(records: records, held: held)
        }
    }

    public func recordInbound(_ records: [NewInbound], items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.inbound(records, entries: ledger.entries.count)
        let rows: ItemRows?, encoded: LedgerBatch
        if items.isEmpty {
            (rows, encoded) = (nil, try Self.encodeLedger(ledger))
        } else {
            (rows, encoded) = try await prepare(items, ledger: ledger)
        }
        return try await write { db in
            var append = try Self.beginAppend(db, encoded)
            if let rows { try Self.insertItems(db, rows) }
            let first = append.start
            do {
                try Self.insertRows(
                    db, "INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state, reason, item_id, ledger_index) VALUES",
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)", records.count
                ) { statement, n, c in
                    let r = records[n]
                    statement.bind(c, r.peer.code)
                    statement.bind(c + 1, r.linkSequence)
                    statement.bind(c + 2, r.digest)
                    statement.bind(c + 4, Self.ms(r.at))
                    statement.bind(c + 8, first + r.ledgerOffset)
                    switch r.outcome {
                    case .accepted(let id):
                        statement.bind(c + 3, nil as [UInt8]?)
                        statement.bind(c + 5, "done")
                        statement.bind(c + 6, nil as String?)
                        statement.bind(c + 7, id)
                    case .refused(let why, let bytes):
                        statement.bind(c + 3, bytes)
                        statement.bind(c + 5, "refused")
                        statement.bind(c + 6, why)
                        statement.bind(c + 7, nil as [UInt8]?)
                    }
                }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                // Recorded before this batch, not by a part of it already
                // written: those entries start at `first`.
                let seen = RawStatement(try db.cachedStatement(sql: "SELECT 1 FROM inbox WHERE peer = ? AND link_seq = ? AND (ledger_index IS NULL OR ledger_index < ?)"), db)
                for r in records {
                    seen.bind(1, r.peer.code)
                    seen.bind(2, r.linkSequence)
                    seen.bind(3, first)
                    if try seen.int64() != nil { throw StoreError(.duplicate, "\(r.peer) link sequence \(r.linkSequence) is already recorded") }
                }
                throw StoreError(.invalidInput, "an envelope breaks a rule of the store: \(e.message ?? "constraint")")
            }
            append.startSigning(ledger.sign)
            return LedgerReceipt(entries: try Self.finishAppend(db, append))
        }
    }

    public func settleOutbox(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite, peerHeads: [PeerHead]) async throws(StoreError)
        -> LedgerReceipt
    {
        try await settle("outbox", "outbox task", outcomes, owner: owner, ledger: ledger, peerHeads: peerHeads)
    }

    /// Settles tasks of a work queue (`outbox`, `statement_outbox`): each
    /// update changes a task only if this owner holds it; one that does not
    /// refuses the whole settlement.
    func settle(
        _ table: String, _ what: String, _ outcomes: [SettledTask], owner: String, ledger: LedgerWrite, peerHeads: [PeerHead] = []
    ) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.settled(outcomes)
        for h in peerHeads { try NodeRules.peerHead(h) }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            for h in peerHeads {
                try db.execute(
                    sql: "INSERT INTO peer_tree_heads (party, size, signed) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [h.party.code, h.size, Data(h.signed)])
                try db.execute(
                    sql: "UPDATE peers SET tree_size = ?, tree_head = ?, tree_at = ? WHERE party = ? AND (tree_size IS NULL OR tree_size < ?)",
                    arguments: [h.size, Data(h.signed), Self.ms(h.at), h.party.code, h.size])
            }
            // Each update changes the task only if this owner holds it. No
            // RETURNING: SQLite answers one through a temporary table opened
            // and closed for every row, which had made a settlement cost more
            // than the release that queued the task. The task's peer (for the
            // outbox's tallies) is a point read after the update.
            let held = "WHERE id = ? AND state = 'claimed' AND owner = ?"
            let delivered = RawStatement(
                try db.cachedStatement(sql: "UPDATE \(table) SET state = 'done', owner = NULL, lease_until = NULL, receipt = ?, last_error = NULL \(held)"), db)
            let retry = RawStatement(
                try db.cachedStatement(sql: "UPDATE \(table) SET state = 'pending', owner = NULL, lease_until = NULL, last_error = ?, not_before = ? \(held)"),
                db)
            let refused = RawStatement(
                try db.cachedStatement(sql: "UPDATE \(table) SET state = 'refused', owner = NULL, lease_until = NULL, last_error = ? \(held)"), db)
            let peerOf = RawStatement(try db.cachedStatement(sql: "SELECT peer FROM \(table) WHERE id = ?"), db)
            var tally: [String: OutboxTally] = [:]
            for o in outcomes {
                switch o.outcome {
                case .delivered(let receipt):
                    delivered.bind(1, receipt)
                    delivered.bind(2, o.id)
                    delivered.bind(3, owner)
                    try delivered.run()
                case .retry(let error, let notBefore):
                    retry.bind(1, error)
                    retry.bind(2, Self.ms(notBefore))
                    retry.bind(3, o.id)
                    retry.bind(4, owner)
                    try retry.run()
                case .refused(let reason):
                    refused.bind(1, reason)
                    refused.bind(2, o.id)
                    refused.bind(3, owner)
                    try refused.run()
                }
                guard db.changesCount == 1 else {
                    guard let row = try Row.fetchOne(db, sql: "SELECT state, owner FROM \(table) WHERE id = ?", arguments: [o.id]) else {
                        throw StoreError(.notFound, "no \(what) \(o.id)")
                    }
                    guard let state = QueueState(rawValue: row["state"]) else { throw StoreError(.corrupt, "unknown \(what) state") }
                    try NodeRules.settleable(state, owner: row["owner"], by: owner, what: "\(what) \(o.id)")
                    throw StoreError(.conflict, "\(what) \(o.id) could not be settled")
                }
                if table == "outbox" {
                    peerOf.bind(1, o.id)
                    guard let peer = try peerOf.text() else { throw StoreError(.notFound, "no \(what) \(o.id)") }
                    tally[peer, default: OutboxTally()].add(o.outcome)
                }
            }
            if table == "outbox" { try Self.tally(db, tally) }
            return try Self.ledger(db, ledger, encoded)
        }
    }

    public func items(_ ids: [[UInt8]]) async throws(StoreError) -> [StoredItem] {
        let key = try NodeRules.storageKey(storageKey)
        let rows = try await run { db -> [NodeRules.StoredRow] in
            let statement = RawStatement(
                try db.cachedStatement(sql: "SELECT \(Self.holdingColumns), seal_index, seal_path, payload, seal_root FROM items WHERE id = ?"), db)
            // Items of one origin batch share their root and tree (3 KB and
            // 64 bytes per item of the batch): read and decoded once, not
            // joined to every item's row.
            let rootAndTree = try db.cachedStatement(
                sql: "SELECT r.root, t.tree FROM origin_roots r LEFT JOIN seal_trees t ON t.root = r.digest WHERE r.digest = ?")
            var roots: [[UInt8]: (OriginRoot, [UInt8]?)] = [:]
            return try ids.map { id in
                statement.bind(1, id)
                guard
                    let (h, m, index, path, payload, rootKey) = try statement.one({
                        let (h, m) = try Self.holdingAndManifest($0)
                        return (h, m, Int($0.int64(at: 9)), $0.optionalBytes(at: 10), $0.optionalBytes(at: 11), $0.bytes(at: 12))
                    })
                else { throw StoreError(.notFound, "no item \(Hex.encode(id))") }
                let root: (OriginRoot, [UInt8]?)
                if let known = roots[rootKey] {
                    root = known
                } else {
                    guard let r = try Row.fetchOne(rootAndTree, arguments: [Data(rootKey)]) else {
                        throw StoreError(.corrupt, "item \(Hex.encode(id)) names an origin root this store does not hold")
                    }
                    root = (try NodeRules.decode(Array(r[0] as Data), "origin root"), (r[1] as Data?).map { Array($0) })
                    roots[rootKey] = root
                }
                return NodeRules.StoredRow(holding: h, manifest: m, root: root.0, index: index, path: path, tree: root.1, payload: payload)
            }
        }
        return try NodeRules.storedItems(rows, key: key)
    }

    public func holdings(_ ids: [[UInt8]]) async throws(StoreError) -> [LiaisonStore.Holding] {
        try await run { db in
            let statement = RawStatement(try db.cachedStatement(sql: "SELECT \(Self.holdingColumns) FROM items WHERE id = ?"), db)
            return try ids.map { id in
                statement.bind(1, id)
                guard let h = try statement.one(Self.holding) else { throw StoreError(.notFound, "no item \(Hex.encode(id))") }
                return h
            }
        }
    }

    /// The oldest task waiting or in flight: the least of each state's
    /// least, each the first entry of its part of the queue's index (a
    /// minimum over both states at once read every task waiting).
    static let oldestWaitingSQL = """
        SELECT min(m) FROM (
            SELECT min(not_before) AS m FROM outbox WHERE peer = ? AND state = 'pending'
            UNION ALL SELECT min(not_before) FROM outbox WHERE peer = ? AND state = 'claimed')
        """

    /// The latest error of a task not delivered, from the index of the tasks
    /// with an error (``NodeSchema/outboxErrors``), read from its newest end.
    static let lastErrorSQL = """
        SELECT last_error FROM outbox INDEXED BY outbox_errors
        WHERE peer = ? AND last_error IS NOT NULL AND state IN ('pending', 'claimed', 'refused') ORDER BY id DESC LIMIT 1
        """

    public func outboxSummary(peer: Party) async throws(StoreError) -> OutboxSummary {
        try await run { db in
            // Tasks waiting and in flight are counted (what is queued now);
            // those delivered and refused are tallied as they settle, not
            // counted: they grow with every item ever sent.
            var counts: [QueueState: Int] = [:]
            // Each state's part of the queue's index counted on its own (no
            // grouping, so no entry is decoded).
            for state in [QueueState.pending, .claimed] {
                let n = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM outbox WHERE peer = ? AND state = ?"), arguments: [peer.code, state.rawValue]) ?? 0
                if n > 0 { counts[state] = n }
            }
            if let row = try Row.fetchOne(db, sql: "SELECT outbox_done, outbox_refused FROM peers WHERE party = ?", arguments: [peer.code]) {
                for (state, n) in [(QueueState.done, row[0] as Int), (.refused, row[1] as Int)] where n > 0 { counts[state] = n }
            }
            let oldest = try Int64.fetchOne(db.cachedStatement(sql: Self.oldestWaitingSQL), arguments: [peer.code, peer.code])
            let lastError = try String.fetchOne(db.cachedStatement(sql: Self.lastErrorSQL), arguments: [peer.code])
            return OutboxSummary(counts: counts, oldestWaiting: oldest.map(Self.date), lastError: lastError)
        }
    }

    public func keepPeerTreeHead(_ party: Party, size: Int, signed: [UInt8]) async throws(StoreError) {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        try NodeRules.blob(signed, "the tree head", max: NodeRules.maximumEvidenceBytes)
        try await write { db in
            do {
                try db.execute(
                    sql: "INSERT INTO peer_tree_heads (party, size, signed) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [party.code, size, Data(signed)])
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.notFound, "no peer \(party)")
            }
        }
    }

    public func peerTreeHead(_ party: Party, size: Int) async throws(StoreError) -> [UInt8]? {
        try await run { db in
            try Data.fetchOne(db, sql: "SELECT signed FROM peer_tree_heads WHERE party = ? AND size = ?", arguments: [party.code, size]).map { Array($0) }
        }
    }

    // MARK: Statements to send

    static let statementColumns = "id, peer, kind, signed, item_id, state, queued_at, attempts, last_error, receipt"

    /// A row of ``statementColumns``, read by position.
    static func statementTask(_ r: some ColumnReader) throws -> StatementTask {
        guard let state = QueueState(rawValue: r.string(at: 5)) else { throw StoreError(.corrupt, "unknown statement state") }
        return StatementTask(
            id: r.int64(at: 0), peer: try NodeRules.party(r.string(at: 1)), kind: Int(r.int64(at: 2)), signed: r.bytes(at: 3),
            itemID: r.optionalBytes(at: 4), state: state, queuedAt: Self.date(r.int64(at: 6)), attempts: Int(r.int64(at: 7)),
            lastError: r.optionalString(at: 8), receipt: r.optionalBytes(at: 9))
    }

    public func enqueueStatements(_ requests: [StatementRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [StatementTask] {
        try NodeRules.statementRequests(requests)
        try NodeRules.instant(at, "the instant")
        let encoded = try Self.encodeLedger(ledger)
        let when = Self.ms(at)
        return try await write { db in
            let out = try Self.insertStatements(db, requests, at: when)
            _ = try Self.ledger(db, ledger, encoded)
            return out
        }
    }

    /// Queues statements inside a write (each peer must be known).
    static func insertStatements(_ db: Database, _ requests: [StatementRequest], at when: Int64) throws -> [StatementTask] {
        var out: [StatementTask] = []
        for r in requests {
            guard try Int64.fetchOne(db, sql: "SELECT 1 FROM peers WHERE party = ?", arguments: [r.peer.code]) != nil else {
                throw StoreError(.notFound, "no peer \(r.peer)")
            }
            try db.execute(
                sql: """
                    INSERT INTO statement_outbox (peer, kind, signed, item_id, state, queued_at, attempts, not_before)
                    VALUES (?, ?, ?, ?, 'pending', ?, 0, ?)
                    """, arguments: [r.peer.code, r.kind, Data(r.signed), r.itemID.map { Data($0) }, when, when])
            out.append(
                try Self.statementTask(
                    Row.fetchOne(db, sql: "SELECT \(Self.statementColumns) FROM statement_outbox WHERE id = ?", arguments: [db.lastInsertedRowID])!))
        }
        return out
    }

    public func claimStatements(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [StatementTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        // A claim lost in a crash returns its tasks to the queue: not synced.
        return try await write(durable: false) { db in
            try Self.claim(db, "statement_outbox", Self.statementColumns, peer: peer, owner: owner, limit: limit, now: t, until: until, Self.statementTask)
        }
    }

    public func settleStatements(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try await settle("statement_outbox", "statement task", outcomes, owner: owner, ledger: ledger)
    }

    public func unacknowledgedStatements(peer: Party?) async throws(StoreError) -> [StatementTask] {
        try await run { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.statementColumns) FROM statement_outbox WHERE state IN ('pending', 'claimed') AND (? IS NULL OR peer = ?) ORDER BY id",
                arguments: [peer?.code, peer?.code]
            ).map(Self.statementTask)
        }
    }

    public func statementTask(_ id: Int64) async throws(StoreError) -> StatementTask {
        let task = try await run { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.statementColumns) FROM statement_outbox WHERE id = ?", arguments: [id]).map(Self.statementTask)
        }
        guard let task else { throw StoreError(.notFound, "no statement task \(id)") }
        return task
    }

    public func statementReceipt(peer: Party, digest: [UInt8]) async throws(StoreError) -> Int? {
        try await run { db in
            try Int.fetchOne(db, sql: "SELECT ledger_index FROM received_statements WHERE peer = ? AND digest = ?", arguments: [peer.code, Data(digest)])
        }
    }

    public func keepStatementReceipt(peer: Party, digest: [UInt8], ledgerIndex: Int) async throws(StoreError) {
        try NodeRules.digest(digest, "the statement digest")
        guard ledgerIndex >= 0 else { throw StoreError(.invalidInput, "a ledger index is not negative") }
        try await write { db in
            try db.execute(
                sql: "INSERT INTO received_statements (peer, digest, ledger_index) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [peer.code, Data(digest), ledgerIndex])
        }
    }
}
