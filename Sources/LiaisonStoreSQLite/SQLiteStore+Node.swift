public import Foundation
internal import GRDB
public import LiaisonModel
internal import LiaisonSealing
public import LiaisonStore

extension SQLiteStore: NodeStore {
    static func registerNodeMigrations(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2-node") { db in
            try db.execute(sql: NodeSchema.sqlite)
        }
        // Fewer bytes per item, the first cost of a durable batch: a whole
        // origin batch keeps its seal tree once (SealTree) and its items no
        // path; the digest, media type and payload size, which the manifest
        // holds, are not stored beside it; ledger leaf hashes, and those of
        // subtrees below 8 leaves, are computed from their entries. The trees
        // have a table of their own: in the WITHOUT ROWID origin_roots, a row
        // spilling onto overflow pages is read whole by every key comparison
        // (each item's foreign key check).
        // (GRDB runs a migration with foreign keys deferred, so the items
        // table can be rebuilt in place.)
        m.registerMigration("v3-compact-items") { db in
            try db.execute(
                sql: """
                    CREATE TABLE seal_trees (
                        root BLOB PRIMARY KEY REFERENCES origin_roots (digest),
                        tree BLOB NOT NULL CHECK (length(tree) % 32 = 0)
                    ) STRICT;
                    CREATE TABLE items_v3 (
                        seq INTEGER PRIMARY KEY,
                        id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
                        manifest BLOB NOT NULL,
                        seal_root BLOB NOT NULL REFERENCES origin_roots (digest),
                        seal_index INTEGER NOT NULL CHECK (seal_index >= 0),
                        seal_path BLOB CHECK (length(seal_path) % 32 = 0),
                        originator TEXT NOT NULL CHECK (length(originator) = 3),
                        payload BLOB,
                        source_party TEXT,
                        agreement TEXT,
                        received_at INTEGER NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('held', 'destroyed', 'compromised')),
                        label BLOB,
                        CHECK ((source_party IS NULL) = (agreement IS NULL)),
                        CHECK ((status = 'destroyed') = (payload IS NULL))
                    ) STRICT;
                    INSERT INTO items_v3 (seq, id, manifest, seal_root, seal_index, seal_path, originator, payload, source_party, agreement,
                        received_at, status, label)
                        SELECT seq, id, manifest, seal_root, seal_index, seal_path, originator, payload, source_party, agreement,
                            received_at, status, label FROM items;
                    DROP TABLE items;
                    ALTER TABLE items_v3 RENAME TO items;
                    ALTER TABLE ledger_entries DROP COLUMN leaf_hash;
                    DELETE FROM ledger_hashes WHERE key < (3 << 56);
                    """)
        }
        // Federation: an accepted envelope's item is in the items table, so
        // the inbox keeps only a refused envelope's bytes (as evidence), and
        // the ledger entry that recorded each envelope, to answer a retry
        // with the same receipt; the tree heads of receipts are kept once
        // per size.
        m.registerMigration("v4-federation") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox_v4 (
                        id INTEGER PRIMARY KEY,
                        peer TEXT NOT NULL CHECK (length(peer) = 3),
                        link_seq INTEGER NOT NULL CHECK (link_seq >= 1),
                        digest BLOB NOT NULL CHECK (length(digest) = 32),
                        envelope BLOB CHECK (length(envelope) > 0),
                        received_at INTEGER NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'refused')),
                        owner TEXT,
                        lease_until INTEGER,
                        reason TEXT,
                        item_id BLOB REFERENCES items (id),
                        ledger_index INTEGER CHECK (ledger_index >= 0),
                        UNIQUE (peer, link_seq),
                        CHECK ((state = 'claimed') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
                        CHECK ((state = 'done') = (item_id IS NOT NULL)),
                        CHECK ((state = 'refused') = (reason IS NOT NULL)),
                        CHECK (state <> 'pending' OR envelope IS NOT NULL)
                    ) STRICT;
                    INSERT INTO inbox_v4 (id, peer, link_seq, digest, envelope, received_at, state, owner, lease_until, reason, item_id)
                        SELECT id, peer, link_seq, digest, envelope, received_at, state, owner, lease_until, reason, item_id FROM inbox;
                    DROP TABLE inbox;
                    ALTER TABLE inbox_v4 RENAME TO inbox;
                    CREATE INDEX inbox_due ON inbox (state, id);
                    CREATE TABLE peer_tree_heads (
                        party TEXT NOT NULL REFERENCES peers (party),
                        size INTEGER NOT NULL CHECK (size >= 0),
                        signed BLOB NOT NULL CHECK (length(signed) > 0),
                        PRIMARY KEY (party, size)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE statement_outbox (
                        id INTEGER PRIMARY KEY,
                        peer TEXT NOT NULL REFERENCES peers (party),
                        kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 6),
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
                    CREATE INDEX statement_outbox_due ON statement_outbox (peer, state, not_before);
                    CREATE TABLE received_statements (
                        peer TEXT NOT NULL CHECK (length(peer) = 3),
                        digest BLOB NOT NULL CHECK (length(digest) = 32),
                        ledger_index INTEGER NOT NULL CHECK (ledger_index >= 0),
                        PRIMARY KEY (peer, digest)
                    ) STRICT, WITHOUT ROWID;
                    """)
        }
        // Operators: lock-out after repeated failed logins.
        m.registerMigration("v5-operators") { db in
            try db.execute(sql: Self.operatorsMigration)
        }
        // Consents received, for the holder's releases (Art 6(a)).
        m.registerMigration("v6-consents") { db in
            try db.execute(sql: NodeSchema.consentsSQLite)
        }
        // Consent requests, sent as holder and received as originator (Art 6(a)).
        m.registerMigration("v7-consent-requests") { db in
            try db.execute(sql: NodeSchema.consentRequestsSQLite)
        }
        // Each peer's delivered and refused tasks, kept as they settle (sync status).
        m.registerMigration("v9-outbox-tally") { db in
            try db.execute(sql: NodeSchema.outboxTally(integer: "INTEGER"))
        }
        // The tasks with an error, indexed for the sync status.
        m.registerMigration("v10-outbox-errors") { db in
            try db.execute(sql: NodeSchema.outboxErrors)
        }
    }

    static let operatorsMigration = """
        ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
        ALTER TABLE users ADD COLUMN locked_until INTEGER;
        """

    static func ms(_ d: Date) -> Int64 { Instant.milliseconds(d) }
    static func date(_ ms: Int64) -> Date { Instant.date(ms) }

    static func ledger(_ db: Database, _ w: LedgerWrite, _ batch: LedgerBatch) throws -> LedgerReceipt {
        LedgerReceipt(entries: try appendLedger(db, batch, sign: w.sign))
    }

    static func encodeLedger(_ w: LedgerWrite) throws(StoreError) -> LedgerBatch {
        LedgerBatch(try w.encoded())
    }

    // MARK: Items and holdings

    /// What goes into the items and origin_roots rows of a batch, prepared
    /// outside the write transaction (encryption and encoding need no lock).
    struct ItemRows: Sendable {
        struct Row: Sendable {
            /// `path` is nil when the item's root keeps its whole seal tree.
            var id: [UInt8], manifest: [UInt8], root: [UInt8], index: Int, path: [UInt8]?
            var originator: String, payload: [UInt8]
            var sourceParty: String?, agreement: String?, at: Int64
        }
        var roots: [(digest: [UInt8], der: [UInt8], tree: [UInt8]?)]
        /// The rows in batch order, in one or more runs.
        var runs: [[Row]]
        var count: Int { runs.reduce(0) { $0 + $1.count } }

        init(_ items: [NewItem], key: StorageKey) {
            let (roots, itemRoots) = NodeRules.originRoots(items)
            let trees = NodeRules.wholeSealTrees(items, itemRoots: itemRoots)
            self.init(roots: roots, trees: trees, runs: [Self.rows(items[...], itemRoots[...], whole: Set(trees.keys), key: key)])
        }

        init(roots: [(digest: [UInt8], der: [UInt8])], trees: [[UInt8]: SealTree], runs: [[Row]]) {
            self.roots = roots.map { ($0.digest, $0.der, trees[$0.digest]?.bytes) }
            self.runs = runs
        }

        /// A large batch checked (``NodeRules/itemsConcurrently(_:chunks:prepare:alongside:)``)
        /// and its rows encrypted and encoded, in chunks spread over the cores;
        /// the seal trees computed and the ledger entries encoded meanwhile.
        static func checkedConcurrently(
            _ items: [NewItem], key: StorageKey, ledger: LedgerWrite
        ) async throws(StoreError) -> (ItemRows, LedgerBatch) {
            let (roots, itemRoots) = NodeRules.originRoots(items)
            let whole = NodeRules.wholeSealGroups(itemRoots, items: items)
            let wholeRoots = Set(whole.keys)
            let (runs, (trees, encoded)) = try await NodeRules.itemsConcurrently(
                items, prepare: { chunk in Self.rows(chunk, itemRoots[chunk.indices], whole: wholeRoots, key: key) },
                alongside: { (NodeRules.sealTrees(whole, items: items), Result { () throws(StoreError) in try SQLiteStore.encodeLedger(ledger) }) })
            return (ItemRows(roots: roots, trees: trees, runs: runs), try encoded.get())
        }
        static func rows(_ items: ArraySlice<NewItem>, _ itemRoots: ArraySlice<[UInt8]>, whole: Set<[UInt8]>, key: StorageKey) -> [Row] {
            let sealed = key.seal(items.map { $0.sealed.payload }, itemIDs: items.map { $0.sealed.manifest.itemID })
            var out: [Row] = []
            out.reserveCapacity(items.count)
            var wholeRoot: [UInt8]?  // the last root found whole: items of one root come together
            for (n, i) in items.indices.enumerated() {
                let item = items[i], root = itemRoots[i]
                let m = item.sealed.manifest
                var party: String?, agreement: String?
                if case .received(let from, let a) = item.source { (party, agreement) = (from.code, a) }
                if root != wholeRoot, whole.contains(root) { wholeRoot = root }
                out.append(
                    Row(
                        id: m.itemID, manifest: m.encoded, root: root, index: item.sealed.seal.index,
                        path: root == wholeRoot ? nil : item.sealed.seal.path.bytes, originator: m.label.originator.code, payload: sealed[n],
                        sourceParty: party, agreement: agreement, at: Instant.milliseconds(item.at)))
            }
            return out
        }
    }

    static func insertItems(_ db: Database, _ batch: ItemRows) throws {
        let insertRoot = RawStatement(try db.cachedStatement(sql: "INSERT INTO origin_roots (digest, root) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING"), db)
        let insertTree = RawStatement(try db.cachedStatement(sql: "INSERT INTO seal_trees (root, tree) VALUES (?, ?) ON CONFLICT (root) DO NOTHING"), db)
        for root in batch.roots {
            insertRoot.bind(1, root.digest)
            insertRoot.bind(2, root.der)
            try insertRoot.run()
            if let tree = root.tree {
                insertTree.bind(1, root.digest)
                insertTree.bind(2, tree)
                try insertTree.run()
            }
        }
        let runs = batch.runs
        // Where each run starts in the batch (a handful of runs).
        let starts = runs.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        do {
            try insertRows(
                db,
                """
                INSERT INTO items (id, manifest, seal_root, seal_index, seal_path, originator, payload, source_party, agreement,
                    received_at, status) VALUES
                """, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held')", batch.count
            ) { statement, n, c in
                var run = 0
                while n >= starts[run + 1] { run += 1 }
                let r = runs[run][n - starts[run]]
                statement.bind(c, r.id)
                statement.bind(c + 1, r.manifest)
                statement.bind(c + 2, r.root)
                statement.bind(c + 3, r.index)
                statement.bind(c + 4, r.path)
                statement.bind(c + 5, r.originator)
                statement.bind(c + 6, r.payload)
                statement.bind(c + 7, r.sourceParty)
                statement.bind(c + 8, r.agreement)
                statement.bind(c + 9, r.at)
            }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
            // Which item: the first of the batch already stored.
            let check = RawStatement(try db.cachedStatement(sql: "SELECT 1 FROM items WHERE id = ?"), db)
            for r in runs.joined() {
                check.bind(1, r.id)
                if try check.int64() != nil { throw StoreError(.duplicate, "item \(Hex.encode(r.id)) is already stored") }
            }
            throw StoreError(.invalidInput, "an item breaks a rule of the store: \(e.message ?? "constraint")")
        }
    }

    /// Checks items and prepares their rows and the ledger batch, outside
    /// the write transaction.
    func prepare(_ items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> (ItemRows, LedgerBatch) {
        let key = try NodeRules.storageKey(storageKey)
        if items.count >= 64 {
            // The ledger entries are encoded and hashed while the items are checked.
            return try await ItemRows.checkedConcurrently(items, key: key, ledger: ledger)
        }
        // The items are checked first, as in a large batch.
        try NodeRules.items(items)
        let encoded = try Self.encodeLedger(ledger)
        return (ItemRows(items, key: key), encoded)
    }

    public func storeItems(_ items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        let (rows, encoded) = try await prepare(items, ledger: ledger)
        return try await write { db in
            // The new subtree hashes are computed while the item rows are
            // written; the tree head is signed once they are in.
            var append = try Self.beginAppend(db, encoded)
            try Self.insertItems(db, rows)
            append.startSigning(ledger.sign)
            return LedgerReceipt(entries: try Self.finishAppend(db, append))
        }
    }

    static let holdingColumns =
        "items.seq, items.id, items.manifest, items.originator, items.source_party, items.agreement, items.received_at, items.status, items.label"

    static func holding(_ row: some ColumnReader) throws -> LiaisonStore.Holding { try holdingAndManifest(row).0 }

    /// A row that starts with ``holdingColumns``, read by position (every
    /// query that reads holdings selects them first).
    static func holdingAndManifest(_ r: some ColumnReader) throws -> (LiaisonStore.Holding, ItemManifest) {
        let manifest: ItemManifest = try NodeRules.decode(r.bytes(at: 2), "manifest")
        let label = try NodeRules.label(manifest: manifest, current: r.optionalBytes(at: 8))
        let status = r.string(at: 7)
        guard let s = HoldingStatus(rawValue: status) else { throw StoreError(.corrupt, "unknown holding status \(status)") }
        let h = LiaisonStore.Holding(
            sequence: r.int64(at: 0), itemID: r.bytes(at: 1), digest: manifest.digest,
            originator: try NodeRules.party(r.string(at: 3)), label: label, mediaType: manifest.mediaType, payloadSize: manifest.payloadSize,
            source: try NodeRules.source(party: r.optionalString(at: 4), agreement: r.optionalString(at: 5)), at: date(r.int64(at: 6)), status: s)
        return (h, manifest)
    }

    /// One item, read and checked as a sender's batch is (``items(_:)``).
    public func item(_ id: [UInt8]) async throws(StoreError) -> StoredItem { try await items([id])[0] }

    public func holdings(after cursor: Int64?, limit: Int) async throws(StoreError) -> [LiaisonStore.Holding] {
        guard limit > 0, limit <= NodeRules.maximumClaim else { throw StoreError(.invalidInput, "a page holds 1 to \(NodeRules.maximumClaim) holdings, not \(limit)") }
        return try await run { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.holdingColumns) FROM items WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [cursor ?? 0, limit]
            ).map(Self.holding)
        }
    }

    public func holdings(before cursor: Int64?, limit: Int) async throws(StoreError) -> [LiaisonStore.Holding] {
        guard limit > 0, limit <= NodeRules.maximumClaim else { throw StoreError(.invalidInput, "a page holds 1 to \(NodeRules.maximumClaim) holdings, not \(limit)") }
        return try await run { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.holdingColumns) FROM items WHERE seq < ? ORDER BY seq DESC LIMIT ?", arguments: [cursor ?? Int64.max, limit]
            ).map(Self.holding)
        }
    }

    public func changeHolding(
        _ id: [UInt8], _ change: HoldingChange, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.change(change)
        try NodeRules.instant(at, "the instant")
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let encoded = try Self.encodeLedger(ledger)
        let when = Self.ms(at)
        return try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.holdingColumns) FROM items WHERE id = ?", arguments: [Data(id)]) else {
                throw StoreError(.notFound, "no item \(Hex.encode(id))")
            }
            let (h, manifest) = try Self.holdingAndManifest(row)
            let (kind, evidence) = try NodeRules.event(change, holding: h, manifest: manifest)
            switch change {
            case .reclassified(let label, _):
                try db.execute(sql: "UPDATE items SET label = ? WHERE seq = ?", arguments: [Data(LabelDocument(label).derBytes), h.sequence])
            case .destroyed:
                try db.execute(sql: "UPDATE items SET status = 'destroyed', payload = NULL WHERE seq = ?", arguments: [h.sequence])
            case .compromised:
                try db.execute(sql: "UPDATE items SET status = 'compromised' WHERE seq = ?", arguments: [h.sequence])
            case .compromiseReported:
                break
            }
            try db.execute(
                sql: "INSERT INTO holding_events (item_seq, kind, at, evidence) VALUES (?, ?, ?, ?)",
                arguments: [h.sequence, kind.rawValue, when, Data(evidence)])
            let tasks = try Self.insertStatements(db, statements, at: when)
            return (try Self.ledger(db, ledger, encoded), tasks)
        }
    }

    public func holdingEvents(_ id: [UInt8]) async throws(StoreError) -> [HoldingEvent] {
        try await run { db in
            guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM items WHERE id = ?", arguments: [Data(id)]) else {
                throw StoreError(.notFound, "no item \(Hex.encode(id))")
            }
            return try Row.fetchAll(db, sql: "SELECT kind, at, evidence FROM holding_events WHERE item_seq = ? ORDER BY id", arguments: [seq]).map {
                row in
                guard let kind = HoldingEvent.Kind(rawValue: row["kind"]) else { throw StoreError(.corrupt, "unknown holding event kind") }
                return HoldingEvent(kind: kind, at: Self.date(row["at"]), evidence: Array(row["evidence"] as Data))
            }
        }
    }

    public func holdingEvents(kind: HoldingEvent.Kind, before: Int64?, limit: Int) async throws(StoreError) -> [ItemEvent] {
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "limit is 1 to 10000, not \(limit)") }
        return try await run { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id, e.kind, e.at, e.evidence, i.id AS item FROM holding_events e JOIN items i ON i.seq = e.item_seq
                    WHERE e.kind = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?
                    """, arguments: [kind.rawValue, before ?? Int64.max, limit]
            ).map { row in
                ItemEvent(
                    sequence: row["id"], itemID: Array(row["item"] as Data),
                    event: HoldingEvent(kind: kind, at: Self.date(row["at"]), evidence: Array(row["evidence"] as Data)))
            }
        }
    }

    // MARK: Outbox

    static let outboxColumns = "id, item_id, peer, agreement, consents, link_seq, state, owner, lease_until, attempts, not_before, last_error, receipt"

    /// A row of ``outboxColumns``, read by position.
    static func outboxTask(_ r: some ColumnReader) throws -> OutboxTask {
        let state = r.string(at: 6)
        guard let s = QueueState(rawValue: state) else { throw StoreError(.corrupt, "unknown outbox state \(state)") }
        return OutboxTask(
            id: r.int64(at: 0), itemID: r.bytes(at: 1), peer: try NodeRules.party(r.string(at: 2)), agreement: r.string(at: 3),
            consents: try NodeRules.unpack(r.bytes(at: 4)), linkSequence: r.int64(at: 5), state: s, owner: r.optionalString(at: 7),
            leaseUntil: r.optionalInt64(at: 8).map(date), attempts: Int(r.int64(at: 9)), notBefore: date(r.int64(at: 10)),
            lastError: r.optionalString(at: 11), receipt: r.optionalBytes(at: 12))
    }

    /// Adds settled outbox tasks to their peers' tallies (``NodeSchema/outboxTally(integer:)``), by peer.
    static func tally(_ db: Database, _ settled: [String: OutboxTally]) throws {
        for (peer, n) in settled where !n.isEmpty {
            try db.execute(
                sql: "UPDATE peers SET outbox_done = outbox_done + ?, outbox_refused = outbox_refused + ? WHERE party = ?",
                arguments: [n.done, n.refused, peer])
        }
    }

    public func enqueueOutbox(_ requests: [OutboxRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [OutboxTask] {
        try NodeRules.outbox(requests)
        try NodeRules.instant(at, "the instant")
        let encoded = try Self.encodeLedger(ledger)
        let when = Self.ms(at)
        return try await write { db in
            // Each peer's link numbers taken in one update, in request order.
            var next: [Party: Int64] = [:]
            for (peer, count) in Dictionary(grouping: requests, by: \.peer).mapValues(\.count) {
                guard let first = try Int64.fetchOne(
                    db, sql: "UPDATE peers SET next_out_seq = next_out_seq + ? WHERE party = ? RETURNING next_out_seq - ?",
                    arguments: [count, peer.code, count])
                else { throw StoreError(.notFound, "no peer \(peer)") }
                next[peer] = first
            }
            let status = RawStatement(try db.cachedStatement(sql: "SELECT status FROM items WHERE id = ?"), db)
            let insert = RawStatement(
                try db.cachedStatement(
                    sql: """
                        INSERT INTO outbox (item_id, peer, agreement, consents, link_seq, state, attempts, not_before)
                        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)
                        """), db)
            var tasks: [OutboxTask] = []
            tasks.reserveCapacity(requests.count)
            for r in requests {
                status.bind(1, r.itemID)
                guard let state = try status.text() else { throw StoreError(.notFound, "no item \(Hex.encode(r.itemID)) to send") }
                guard state == HoldingStatus.held.rawValue else {
                    throw StoreError(.conflict, "item \(Hex.encode(r.itemID)) is \(state); it cannot be sent")
                }
                let seq = next[r.peer]!
                next[r.peer] = seq + 1
                let consents = NodeRules.pack(r.consents)
                insert.bind(1, r.itemID)
                insert.bind(2, r.peer.code)
                insert.bind(3, r.agreement)
                insert.bind(4, consents)
                insert.bind(5, seq)
                insert.bind(6, when)
                do {
                    try insert.run()
                } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                    throw StoreError(.duplicate, "item \(Hex.encode(r.itemID)) is already queued to \(r.peer) under \(r.agreement)")
                }
                tasks.append(
                    OutboxTask(
                        id: db.lastInsertedRowID, itemID: r.itemID, peer: r.peer, agreement: r.agreement, consents: r.consents, linkSequence: seq,
                        state: .pending, owner: nil, leaseUntil: nil, attempts: 0, notBefore: Self.date(when), lastError: nil, receipt: nil))
            }
            _ = try Self.ledger(db, ledger, encoded)
            return tasks
        }
    }

    public func claimOutbox(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [OutboxTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        // A claim lost in a crash returns its tasks to the queue: not synced.
        return try await write(durable: false) { db in
            try Self.claim(db, "outbox", Self.outboxColumns, peer: peer, owner: owner, limit: limit, now: t, until: until, Self.outboxTask)
        }
    }

    /// Claims a peer's due tasks of a work queue (`outbox`, `statement_outbox`):
    /// claims whose lease ran out first, then pending tasks in the order
    /// they fell due (and were queued). Each part walks the queue's
    /// `(peer, state, not_before)` index and stops at `limit`, so a claim
    /// reads only the rows it takes, however many tasks are done.
    /// `columns` start with the task's id; `read` reads a claimed row of them.
    static func claim<T>(
        _ db: Database, _ table: String, _ columns: String, peer: Party, owner: String, limit: Int, now t: Int64, until: Int64,
        _ read: (RawStatement) throws -> T
    ) throws -> [T] {
        let claim = RawStatement(try db.cachedStatement(sql: claimSQL(table, columns)), db)
        claim.bind(1, owner)
        claim.bind(2, until)
        // The two parts of the claim: (peer, now, limit) each.
        for i: Int32 in [3, 6] {
            claim.bind(i, peer.code)
            claim.bind(i + 1, t)
            claim.bind(i + 2, limit)
        }
        claim.bind(9, limit)
        return try claim.all { ($0.int64(at: 0), try read($0)) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The claim's statement; arguments: owner, lease end, then (peer, now, limit) twice, then limit.
    static func claimSQL(_ table: String, _ columns: String) -> String {
        """
        UPDATE \(table) SET state = 'claimed', owner = ?, lease_until = ?, attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM (
                SELECT id, 0 AS part FROM (SELECT id FROM \(table) WHERE peer = ? AND state = 'claimed' AND lease_until <= ? ORDER BY lease_until, id LIMIT ?)
                UNION ALL
                SELECT id, 1 FROM (SELECT id FROM \(table) WHERE peer = ? AND state = 'pending' AND not_before <= ? ORDER BY not_before, id LIMIT ?))
            ORDER BY part LIMIT ?)
        RETURNING \(columns)
        """
    }

    public func settleOutbox(_ id: Int64, owner: String, _ outcome: OutboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> OutboxTask {
        try NodeRules.outcome(outcome)
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.outboxColumns) FROM outbox WHERE id = ?", arguments: [id]) else {
                throw StoreError(.notFound, "no outbox task \(id)")
            }
            let task = try Self.outboxTask(row)
            try NodeRules.settleable(task.state, owner: task.owner, by: owner, what: "outbox task \(id)")
            switch outcome {
            case .delivered(let receipt):
                try db.execute(
                    sql: "UPDATE outbox SET state = 'done', owner = NULL, lease_until = NULL, receipt = ?, last_error = NULL WHERE id = ?", arguments: [Data(receipt), id])
            case .retry(let error, let notBefore):
                try db.execute(
                    sql: "UPDATE outbox SET state = 'pending', owner = NULL, lease_until = NULL, last_error = ?, not_before = ? WHERE id = ?",
                    arguments: [error, Self.ms(notBefore), id])
            case .refused(let reason):
                try db.execute(
                    sql: "UPDATE outbox SET state = 'refused', owner = NULL, lease_until = NULL, last_error = ? WHERE id = ?", arguments: [reason, id])
            }
            var tally = OutboxTally()
            tally.add(outcome)
            try Self.tally(db, [task.peer.code: tally])
            _ = try Self.ledger(db, ledger, encoded)
            return try Self.outboxTask(Row.fetchOne(db, sql: "SELECT \(Self.outboxColumns) FROM outbox WHERE id = ?", arguments: [id])!)
        }
    }

    public func outboxTask(_ id: Int64) async throws(StoreError) -> OutboxTask {
        let task = try await run { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.outboxColumns) FROM outbox WHERE id = ?", arguments: [id]).map(Self.outboxTask)
        }
        guard let task else { throw StoreError(.notFound, "no outbox task \(id)") }
        return task
    }

    public func outboxTasks(itemID: [UInt8]?, before: Int64?, limit: Int) async throws(StoreError) -> [OutboxTask] {
        if let itemID { try NodeRules.itemID(itemID) }
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "a page holds 1 to 10000 tasks, not \(limit)") }
        return try await run { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.outboxColumns) FROM outbox WHERE (? IS NULL OR item_id = ?) AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?",
                arguments: [itemID.map { Data($0) }, itemID.map { Data($0) }, before, before, limit]
            ).map(Self.outboxTask)
        }
    }

    // MARK: Inbox

    static let inboxColumns = "id, peer, link_seq, digest, envelope, received_at, state, owner, lease_until, reason, item_id"

    static func inboxTask(_ row: Row) throws -> InboxTask {
        let state: String = row["state"]
        guard let s = QueueState(rawValue: state) else { throw StoreError(.corrupt, "unknown inbox state \(state)") }
        return InboxTask(
            id: row["id"], peer: try NodeRules.party(row["peer"]), linkSequence: row["link_seq"], digest: Array(row["digest"] as Data),
            bytes: (row["envelope"] as Data?).map { Array($0) } ?? [], receivedAt: date(row["received_at"]), state: s, owner: row["owner"],
            leaseUntil: (row["lease_until"] as Int64?).map(date), reason: row["reason"], itemID: (row["item_id"] as Data?).map { Array($0) })
    }

    public func receiveInbox(_ envelopes: [InboundEnvelope], ledger: LedgerWrite) async throws(StoreError) -> [InboxAdmission] {
        try NodeRules.inbound(envelopes)
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            var out: [InboxAdmission] = []
            for e in envelopes {
                if let row = try Row.fetchOne(db, sql: "SELECT id, digest FROM inbox WHERE peer = ? AND link_seq = ?", arguments: [e.peer.code, e.linkSequence]) {
                    guard Array(row["digest"] as Data) == e.digest else {
                        throw StoreError(.conflict, "\(e.peer) link sequence \(e.linkSequence) already holds another envelope")
                    }
                    out.append(.duplicate(row["id"]))
                    continue
                }
                try db.execute(
                    sql: "INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state) VALUES (?, ?, ?, ?, ?, 'pending')",
                    arguments: [e.peer.code, e.linkSequence, Data(e.digest), Data(e.bytes), Self.ms(e.at)])
                out.append(.new(db.lastInsertedRowID))
            }
            _ = try Self.ledger(db, ledger, encoded)
            return out
        }
    }

    public func claimInbox(owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [InboxTask] {
        try NodeRules.claim(owner: owner, limit: limit, lease: lease, now: now)
        let t = Self.ms(now), until = Self.ms(now.addingTimeInterval(lease))
        return try await write { db in
            try Row.fetchAll(
                db,
                sql: """
                    UPDATE inbox SET state = 'claimed', owner = ?, lease_until = ?
                    WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' OR (state = 'claimed' AND lease_until <= ?) ORDER BY id LIMIT ?)
                    RETURNING \(Self.inboxColumns)
                    """, arguments: [owner, until, t, limit]
            ).map(Self.inboxTask).sorted { $0.id < $1.id }
        }
    }

    public func settleInbox(_ id: Int64, owner: String, _ outcome: InboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> InboxTask {
        var row: ItemRows?
        switch outcome {
        case .accepted(let item):
            try NodeRules.items([item])
            row = ItemRows([item], key: try NodeRules.storageKey(storageKey))
        case .refused(let reason): try NodeRules.text(reason, "the reason")
        }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { [row] db in
            guard let current = try Row.fetchOne(db, sql: "SELECT state, owner FROM inbox WHERE id = ?", arguments: [id]) else {
                throw StoreError(.notFound, "no inbox envelope \(id)")
            }
            guard let state = QueueState(rawValue: current["state"]) else { throw StoreError(.corrupt, "unknown inbox state") }
            try NodeRules.settleable(state, owner: current["owner"], by: owner, what: "inbox envelope \(id)")
            switch outcome {
            case .accepted:
                try Self.insertItems(db, row!)
                try db.execute(
                    sql: "UPDATE inbox SET state = 'done', owner = NULL, lease_until = NULL, item_id = ? WHERE id = ?", arguments: [Data(row!.runs[0][0].id), id])
            case .refused(let reason):
                try db.execute(sql: "UPDATE inbox SET state = 'refused', owner = NULL, lease_until = NULL, reason = ? WHERE id = ?", arguments: [reason, id])
            }
            _ = try Self.ledger(db, ledger, encoded)
            return try Self.inboxTask(Row.fetchOne(db, sql: "SELECT \(Self.inboxColumns) FROM inbox WHERE id = ?", arguments: [id])!)
        }
    }

    public func inboxTask(_ id: Int64) async throws(StoreError) -> InboxTask {
        let task = try await run { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.inboxColumns) FROM inbox WHERE id = ?", arguments: [id]).map(Self.inboxTask)
        }
        guard let task else { throw StoreError(.notFound, "no inbox envelope \(id)") }
        return task
    }

    // MARK: Statements

    public func recordStatements(
        _ statements: [StoredStatement], ledger: LedgerWrite, sending: [StatementRequest], at: Date
    ) async throws(StoreError) -> (new: Int, tasks: [StatementTask]) {
        try NodeRules.statements(statements)
        if !sending.isEmpty {
            try NodeRules.statementRequests(sending)
            try NodeRules.instant(at, "the instant")
        }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            var new = 0
            for s in statements {
                try db.execute(
                    sql: "INSERT INTO statements (digest, agreement, party, act, at, signed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                    arguments: [Data(s.digest), s.agreement, s.party.code, s.act, Self.ms(s.at), Data(s.signed)])
                new += db.changesCount
            }
            let tasks = try Self.insertStatements(db, sending, at: Self.ms(at))
            _ = try Self.ledger(db, ledger, encoded)
            return (new, tasks)
        }
    }

    public func statements(agreement: String) async throws(StoreError) -> [StoredStatement] {
        try NodeRules.text(agreement, "the agreement", max: 256)
        return try await run { db in
            try Row.fetchAll(db, sql: "SELECT digest, agreement, party, act, at, signed FROM statements WHERE agreement = ? ORDER BY at, digest", arguments: [agreement])
                .map { row in
                    StoredStatement(
                        digest: Array(row["digest"] as Data), agreement: row["agreement"], party: try NodeRules.party(row["party"]), act: row["act"],
                        at: Self.date(row["at"]), signed: Array(row["signed"] as Data))
                }
        }
    }

    // MARK: Consents

    public func keepConsent(_ consent: StoredConsent, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try NodeRules.consent(consent)
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO consents (originator, id, item_digest, holder, third_party, expires_at, received_at, signed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (originator, id) DO NOTHING
                    """,
                arguments: [
                    consent.originator.code, consent.id, Data(consent.itemDigest), consent.holder.code, consent.thirdParty.code,
                    Self.ms(consent.expiresAt), Self.ms(consent.receivedAt), Data(consent.signed),
                ])
            guard db.changesCount == 1 else { throw StoreError(.conflict, "consent \(consent.id) of \(consent.originator) is kept already") }
            return try Self.ledger(db, ledger, encoded)
        }
    }

    public func consents(itemDigests: [[UInt8]]) async throws(StoreError) -> [StoredConsent] {
        for d in itemDigests { try NodeRules.digest(d, "the item digest") }
        let found = try await run { db in
            let statement = try db.cachedStatement(
                sql: "SELECT originator, id, item_digest, holder, third_party, expires_at, received_at, signed FROM consents WHERE item_digest = ?")
            return try Set(itemDigests).flatMap { digest in
                try Row.fetchAll(statement, arguments: [Data(digest)]).map { row in
                    StoredConsent(
                        id: row["id"], originator: try NodeRules.party(row["originator"]), itemDigest: Array(row["item_digest"] as Data),
                        holder: try NodeRules.party(row["holder"]), thirdParty: try NodeRules.party(row["third_party"]), expiresAt: Self.date(row["expires_at"]),
                        receivedAt: Self.date(row["received_at"]), signed: Array(row["signed"] as Data))
                }
            }
        }
        return NodeRules.oldestFirst(found)
    }

    static let consentRequestColumns =
        "id, direction, holder, originator, third_party, item_id, item_digest, purpose, reason, at, state, answer, answered_at, signed"

    static func consentRequest(_ row: Row) throws -> ConsentRequestRecord {
        guard let direction = ConsentRequestRecord.Direction(rawValue: row["direction"]), let state = ConsentRequestRecord.State(rawValue: row["state"])
        else { throw StoreError(.corrupt, "a consent request's direction or state is unknown") }
        return ConsentRequestRecord(
            id: row["id"], direction: direction, holder: try NodeRules.party(row["holder"]), originator: try NodeRules.party(row["originator"]),
            thirdParty: try NodeRules.party(row["third_party"]), itemID: Array(row["item_id"] as Data), itemDigest: Array(row["item_digest"] as Data),
            purpose: row["purpose"], reason: row["reason"], at: date(row["at"]), state: state, answer: row["answer"],
            answeredAt: (row["answered_at"] as Int64?).map(date), signed: Array(row["signed"] as Data))
    }

    public func recordConsentRequest(
        _ r: ConsentRequestRecord, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.consentRequest(r)
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO consent_requests (id, direction, holder, originator, third_party, item_id, item_digest, purpose, reason, at, state, signed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [
                    r.id, r.direction.rawValue, r.holder.code, r.originator.code, r.thirdParty.code, Data(r.itemID), Data(r.itemDigest), r.purpose,
                    r.reason, Self.ms(r.at), Data(r.signed),
                ])
            guard db.changesCount == 1 else { throw StoreError(.conflict, "consent request \(r.id) is recorded already") }
            let tasks = try Self.insertStatements(db, statements, at: Self.ms(r.at))
            return (try Self.ledger(db, ledger, encoded), tasks)
        }
    }

    public func consentRequest(_ id: String) async throws(StoreError) -> ConsentRequestRecord {
        try NodeRules.text(id, "the request's id", max: 200)
        return try await run { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.consentRequestColumns) FROM consent_requests WHERE id = ?", arguments: [id]) else {
                throw StoreError(.notFound, "no consent request \(id)")
            }
            return try Self.consentRequest(row)
        }
    }

    public func consentRequests(state: ConsentRequestRecord.State?, itemDigest: [UInt8]?, limit: Int) async throws(StoreError) -> [ConsentRequestRecord] {
        guard (1...10_000).contains(limit) else { throw StoreError(.invalidInput, "limit is 1 to 10000, not \(limit)") }
        let digest = itemDigest.map { Data($0) }
        return try await run { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.consentRequestColumns) FROM consent_requests
                    WHERE (? IS NULL OR state = ?) AND (? IS NULL OR item_digest = ?) ORDER BY at DESC, id DESC LIMIT ?
                    """,
                arguments: [state?.rawValue, state?.rawValue, digest, digest, limit]
            ).map(Self.consentRequest)
        }
    }

    public func answerConsentRequest(
        _ id: String, _ state: ConsentRequestRecord.State, answer: String, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask]) {
        try NodeRules.answer(state, answer, at: at)
        if !statements.isEmpty { try NodeRules.statementRequests(statements) }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            guard let current = try String.fetchOne(db, sql: "SELECT state FROM consent_requests WHERE id = ?", arguments: [id]) else {
                throw StoreError(.notFound, "no consent request \(id)")
            }
            guard current == "pending" else { throw StoreError(.conflict, "consent request \(id) is \(current) already") }
            try db.execute(
                sql: "UPDATE consent_requests SET state = ?, answer = ?, answered_at = ? WHERE id = ?", arguments: [state.rawValue, answer, Self.ms(at), id])
            let tasks = try Self.insertStatements(db, statements, at: Self.ms(at))
            return (try Self.ledger(db, ledger, encoded), tasks)
        }
    }

    // MARK: Peers

    static func peer(_ row: Row) throws -> PeerRecord {
        PeerRecord(
            party: try NodeRules.party(row["party"]), endpoint: row["endpoint"], fingerprint: row["fingerprint"], nextOutboundSequence: row["next_out_seq"],
            treeHead: (row["tree_head"] as Data?).map { Array($0) }, treeSize: row["tree_size"], treeHeadAt: (row["tree_at"] as Int64?).map(date),
            alarm: row["alarm"])
    }

    public func savePeer(_ party: Party, endpoint: String, fingerprint: String) async throws(StoreError) {
        try NodeRules.peer(endpoint: endpoint, fingerprint: fingerprint)
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO peers (party, endpoint, fingerprint) VALUES (?, ?, ?)
                    ON CONFLICT (party) DO UPDATE SET endpoint = excluded.endpoint, fingerprint = excluded.fingerprint
                    """, arguments: [party.code, endpoint, fingerprint])
        }
    }

    public func peer(_ party: Party) async throws(StoreError) -> PeerRecord {
        let p = try await run { db in try Row.fetchOne(db, sql: "SELECT * FROM peers WHERE party = ?", arguments: [party.code]).map(Self.peer) }
        guard let p else { throw StoreError(.notFound, "no peer \(party)") }
        return p
    }

    public func peers() async throws(StoreError) -> [PeerRecord] {
        try await run { db in try Row.fetchAll(db, sql: "SELECT * FROM peers ORDER BY party").map(Self.peer) }
    }

    public func recordPeerTreeHead(_ party: Party, size: Int, signed: [UInt8], at: Date) async throws(StoreError) {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        try NodeRules.blob(signed, "the tree head", max: NodeRules.maximumEvidenceBytes)
        try NodeRules.instant(at, "the instant")
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT tree_size, tree_head FROM peers WHERE party = ?", arguments: [party.code]) else {
                throw StoreError(.notFound, "no peer \(party)")
            }
            if let old = row["tree_size"] as Int? {
                try NodeRules.peerTreeHead(party, old: old, oldHead: (row["tree_head"] as Data?).map { Array($0) }, new: size, newHead: signed)
            }
            try db.execute(
                sql: "UPDATE peers SET tree_size = ?, tree_head = ?, tree_at = ? WHERE party = ?", arguments: [size, Data(signed), Self.ms(at), party.code])
            // Kept among the peer's heads too (receipts name heads by size).
            try db.execute(
                sql: "INSERT INTO peer_tree_heads (party, size, signed) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", arguments: [party.code, size, Data(signed)])
        }
    }

    public func setPeerAlarm(_ party: Party, _ alarm: String?, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        if let alarm { try NodeRules.text(alarm, "the alarm") }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            try db.execute(sql: "UPDATE peers SET alarm = ? WHERE party = ?", arguments: [alarm, party.code])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no peer \(party)") }
            return try Self.ledger(db, ledger, encoded)
        }
    }

    // MARK: Users, sessions, API tokens

    /// A user's columns, in the order ``user(_:at:)`` reads them.
    static let userColumns =
        "u.name, u.display_name, u.party, u.roles, u.clearance_level, u.clearance_expires, u.categories, u.credential, u.disabled, u.created_at, u.failed_logins, u.locked_until"

    /// A user from ``userColumns`` starting at column `first`. Read by
    /// position: every API and console request reads its caller this way,
    /// and GRDB's rows by name cost more than the look-up.
    static func user(_ r: some ColumnReader, at first: Int32 = 0) throws -> UserRecord {
        let level = r.optionalString(at: first + 4), expires = r.optionalInt64(at: first + 5)
        return UserRecord(
            name: r.string(at: first), displayName: r.string(at: first + 1), party: try NodeRules.party(r.string(at: first + 2)),
            roles: try NodeRules.roles(r.string(at: first + 3)), clearance: level.flatMap { l in expires.map { Clearance(level: l, expires: date($0)) } },
            categories: NodeRules.set(r.string(at: first + 6)), credential: r.optionalBytes(at: first + 7), disabled: r.int64(at: first + 8) != 0,
            createdAt: date(r.int64(at: first + 9)), failedLogins: Int(r.int64(at: first + 10)), lockedUntil: r.optionalInt64(at: first + 11).map(date))
    }

    static func userArguments(_ u: UserRecord) -> StatementArguments {
        [
            u.displayName, u.party.code, NodeRules.lines(u.roles.map(\.rawValue)), u.clearance?.level, u.clearance.map { ms($0.expires) },
            NodeRules.lines(u.categories), u.credential.map { Data($0) }, u.disabled, u.failedLogins, u.lockedUntil.map(ms), u.name,
        ]
    }

    public func createUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.user(user)
        let encoded = try Self.encodeLedger(ledger)
        _ = try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user.name]) == nil else {
                throw StoreError(.duplicate, "user \(user.name) exists")
            }
            var args = Self.userArguments(user)
            args += [Self.ms(user.createdAt)]
            try db.execute(
                sql: """
                    INSERT INTO users (display_name, party, roles, clearance_level, clearance_expires, categories, credential, disabled,
                        failed_logins, locked_until, name, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: args)
            return try Self.ledger(db, ledger, encoded)
        }
    }

    public func updateUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.user(user)
        let encoded = try Self.encodeLedger(ledger)
        _ = try await write { db in
            try db.execute(
                sql: """
                    UPDATE users SET display_name = ?, party = ?, roles = ?, clearance_level = ?, clearance_expires = ?, categories = ?,
                        credential = ?, disabled = ?, failed_logins = ?, locked_until = ? WHERE name = ?
                    """, arguments: Self.userArguments(user))
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no user \(user.name)") }
            return try Self.ledger(db, ledger, encoded)
        }
    }

    public func recordLoginFailure(_ name: String, limit: Int, lockUntil: Date, ledger: LedgerWrite) async throws(StoreError) -> UserRecord {
        try NodeRules.userName(name)
        try NodeRules.instant(lockUntil, "the end of the lock-out")
        guard limit >= 1 else { throw StoreError(.invalidInput, "the lock-out limit must be at least 1") }
        let encoded = try Self.encodeLedger(ledger)
        return try await write { db in
            // The limit-th failure locks and starts the count again.
            try db.execute(
                sql: """
                    UPDATE users SET
                        locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
                        failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END
                    WHERE name = ?
                    """, arguments: [limit, Self.ms(lockUntil), limit, name])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no user \(name)") }
            _ = try Self.ledger(db, ledger, encoded)
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.userColumns) FROM users u WHERE name = ?", arguments: [name]) else {
                throw StoreError(.notFound, "no user \(name)")
            }
            return try Self.user(row)
        }
    }

    public func recordLoginSuccess(_ session: SessionRecord, ledger: LedgerWrite) async throws(StoreError) {
        try NodeRules.session(session)
        let encoded = try Self.encodeLedger(ledger)
        let now = Self.ms(session.createdAt)
        _ = try await write { db in
            try db.execute(
                sql: "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = ? AND disabled = 0 AND (locked_until IS NULL OR locked_until <= ?)",
                arguments: [session.user, now])
            guard db.changesCount == 1 else {
                guard try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [session.user]) != nil else {
                    throw StoreError(.notFound, "no user \(session.user)")
                }
                throw StoreError(.conflict, "user \(session.user) is locked or disabled")
            }
            do {
                try db.execute(
                    sql: "INSERT INTO sessions (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    arguments: [Data(session.tokenHash), session.user, now, Self.ms(session.expiresAt)])
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.duplicate, "a session with this token exists")
            }
            return try Self.ledger(db, ledger, encoded)
        }
    }

    public func user(_ name: String) async throws(StoreError) -> UserRecord {
        try NodeRules.userName(name)
        let u = try await run { db in try Row.fetchOne(db, sql: "SELECT \(Self.userColumns) FROM users u WHERE name = ?", arguments: [name]).map { try Self.user($0) } }
        guard let u else { throw StoreError(.notFound, "no user \(name)") }
        return u
    }

    public func users() async throws(StoreError) -> [UserRecord] {
        try await run { db in try Row.fetchAll(db, sql: "SELECT \(Self.userColumns) FROM users u ORDER BY name").map { try Self.user($0) } }
    }

    public func createSession(_ session: SessionRecord) async throws(StoreError) {
        try NodeRules.session(session)
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [session.user]) != nil else {
                throw StoreError(.notFound, "no user \(session.user)")
            }
            do {
                try db.execute(
                    sql: "INSERT INTO sessions (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    arguments: [Data(session.tokenHash), session.user, Self.ms(session.createdAt), Self.ms(session.expiresAt)])
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.duplicate, "a session with this token exists")
            }
        }
    }

    public func session(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (SessionRecord, UserRecord) {
        try NodeRules.digest(tokenHash, "the session token hash")
        try NodeRules.instant(now, "the instant")
        // Every request of a logged-in user runs it: one statement (its own
        // snapshot), cached, read by position.
        let found = try await lookUp(
            """
            SELECT s.token_hash, s.user_name, s.created_at, s.expires_at, \(Self.userColumns)
            FROM sessions s JOIN users u ON u.name = s.user_name
            WHERE s.token_hash = ? AND s.revoked = 0 AND s.expires_at > ? AND u.disabled = 0
            """, tokenHash, now
        ) { r in
            (
                SessionRecord(tokenHash: r.bytes(at: 0), user: r.string(at: 1), createdAt: Self.date(r.int64(at: 2)), expiresAt: Self.date(r.int64(at: 3))),
                try Self.user(r, at: 4)
            )
        }
        guard let found else { throw StoreError(.notFound, "no live session for this token") }
        return found
    }

    public func revokeSession(tokenHash: [UInt8]) async throws(StoreError) {
        try NodeRules.digest(tokenHash, "the session token hash")
        try await write { db in
            try db.execute(sql: "UPDATE sessions SET revoked = 1 WHERE token_hash = ?", arguments: [Data(tokenHash)])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no session for this token") }
        }
    }

    /// A token from ``tokenColumns``, read by position.
    static func apiToken(_ r: some ColumnReader) -> APITokenRecord {
        APITokenRecord(
            id: r.string(at: 0), name: r.string(at: 1), user: r.string(at: 2), tokenHash: r.bytes(at: 3), scopes: NodeRules.set(r.string(at: 4)),
            createdAt: date(r.int64(at: 5)), expiresAt: r.optionalInt64(at: 6).map(date), revoked: r.int64(at: 7) != 0)
    }

    static let tokenColumns = "t.id, t.name, t.user_name, t.token_hash, t.scopes, t.created_at, t.expires_at, t.revoked"

    /// A look-up by a token's hash at an instant that every request makes
    /// (its session or API token with its user): one statement, so its own
    /// snapshot without a transaction around it; cached, bound and read by
    /// position (``RawStatement``). GRDB's `Row` by name, and a transaction
    /// begun and ended around the one read, were most of it.
    func lookUp<T>(_ sql: String, _ tokenHash: [UInt8], _ now: Date, _ read: (RawStatement) throws -> T) async throws(StoreError) -> T? {
        do {
            return try unsafeReadNow { db in
                let statement = RawStatement(try db.cachedStatement(sql: sql), db)
                statement.bind(1, tokenHash)
                statement.bind(2, Self.ms(now))
                return try statement.one(read)
            }
        } catch { throw Self.storeError(error) }
    }

    public func createAPIToken(_ token: APITokenRecord) async throws(StoreError) {
        try NodeRules.apiToken(token)
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [token.user]) != nil else {
                throw StoreError(.notFound, "no user \(token.user)")
            }
            do {
                try db.execute(
                    sql: "INSERT INTO api_tokens (id, name, user_name, token_hash, scopes, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        token.id, token.name, token.user, Data(token.tokenHash), NodeRules.lines(token.scopes), Self.ms(token.createdAt),
                        token.expiresAt.map(Self.ms), token.revoked,
                    ])
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(.duplicate, "an API token with id \(token.id) or this secret exists")
            }
        }
    }

    public func apiToken(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (APITokenRecord, UserRecord) {
        try NodeRules.digest(tokenHash, "the token hash")
        try NodeRules.instant(now, "the instant")
        // Every API and TAXII request runs it.
        let found = try await lookUp(
            """
            SELECT \(Self.tokenColumns), \(Self.userColumns) FROM api_tokens t JOIN users u ON u.name = t.user_name
            WHERE t.token_hash = ? AND t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.disabled = 0
            """, tokenHash, now
        ) { r in (Self.apiToken(r), try Self.user(r, at: 8)) }
        guard let found else { throw StoreError(.notFound, "no live API token with this secret") }
        return found
    }

    public func revokeAPIToken(id: String) async throws(StoreError) {
        try NodeRules.token(id: id)
        try await write { db in
            try db.execute(sql: "UPDATE api_tokens SET revoked = 1 WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no API token \(id)") }
        }
    }

    public func apiTokens(user: String) async throws(StoreError) -> [APITokenRecord] {
        try NodeRules.userName(user)
        return try await run { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.tokenColumns) FROM api_tokens t WHERE t.user_name = ? ORDER BY t.created_at, t.id", arguments: [user])
                .map { Self.apiToken($0) }
        }
    }
}
