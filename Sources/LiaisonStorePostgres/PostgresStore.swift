internal import Foundation
internal import LiaisonLedger
public import LiaisonSealing
public import LiaisonStore
public import Logging
public import PostgresNIO

/// The scale-out store: PostgreSQL, shared by several `liaison serve`
/// replicas of one node. Appends take a transaction-scoped advisory lock,
/// so exactly one replica sequences the ledger at a time; the subtree
/// hashes a root or proof needs are fetched in one query.
public final class PostgresStore: LedgerStore, Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Seals payloads at rest; without it items cannot be stored or read.
    let storageKey: StorageKey?
    private let runner: Task<Void, Never>
    /// The advisory lock key of the ledger sequencer ("LIAISONL").
    static let sequencerLock: Int64 = 0x4C49_4149_534F_4E4C

    /// Connects to `configuration` and applies the migrations.
    public init(
        configuration: PostgresClient.Configuration, storageKey: StorageKey? = nil, logger: Logger = Logger(label: "liaison.store.postgres")
    ) async throws(StoreError) {
        self.storageKey = storageKey
        // The pool's own chatter (a lease requested a moment before run()
        // starts, which then waits for it) is not worth a warning line.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    deinit { runner.cancel() }

    func migrate() async throws(StoreError) {
        try await wrap {
            try await self.client.withTransaction(logger: self.logger) { c in
                _ = try await c.query("SELECT pg_advisory_xact_lock(\(Self.sequencerLock))", logger: self.logger).collect()
                _ = try await c.query(
                    """
                    CREATE TABLE IF NOT EXISTS ledger_entries (
                        idx BIGINT PRIMARY KEY CHECK (idx >= 0),
                        entry BYTEA NOT NULL CHECK (length(entry) > 0),
                        leaf_hash BYTEA NOT NULL CHECK (length(leaf_hash) = 32))
                    """, logger: self.logger).collect()
                _ = try await c.query(
                    """
                    CREATE TABLE IF NOT EXISTS ledger_nodes (
                        level INTEGER NOT NULL CHECK (level >= 0),
                        idx BIGINT NOT NULL CHECK (idx >= 0),
                        hash BYTEA NOT NULL CHECK (length(hash) = 32),
                        PRIMARY KEY (level, idx))
                    """, logger: self.logger).collect()
                _ = try await c.query(
                    """
                    CREATE TABLE IF NOT EXISTS tree_heads (
                        size BIGINT PRIMARY KEY CHECK (size >= 0),
                        root BYTEA NOT NULL CHECK (length(root) = 32),
                        signed BYTEA NOT NULL)
                    """, logger: self.logger).collect()
                try await Self.applyMigrations(c, self.logger)
            }
        }
    }

    func wrap<T: Sendable>(_ body: () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await body()
        } catch let e as StoreError {
            throw e
        } catch let e as PostgresTransactionError {
            if let commit = e.commitError {
                // The COMMIT was sent but its answer was lost: the server may
                // have committed. Not "nothing was written" — a blind retry
                // could record the act twice.
                throw StoreError(.indeterminate, "PostgreSQL: the commit's outcome is unknown (\(String(reflecting: commit))); check before retrying")
            }
            // The transaction was rolled back; report what made it fail.
            if let inner = e.closureError as? StoreError { throw inner }
            if let inner = e.closureError as? PSQLError { throw Self.storeError(inner) }
            throw StoreError(.unavailable, "PostgreSQL: \(e.closureError.map { "\($0)" } ?? String(reflecting: e)); nothing was written")
        } catch let e as PSQLError {
            throw Self.storeError(e)
        } catch {
            throw StoreError(.unavailable, "PostgreSQL: \(error)")
        }
    }

    /// The server's refusal by SQLSTATE class: a broken rule of the schema
    /// (23: the input), a conflict with another transaction (40: retry),
    /// anything else unavailable. Nothing was written in any case.
    static func storeError(_ e: PSQLError) -> StoreError {
        let state = e.serverInfo?[.sqlState] ?? ""
        let message = e.serverInfo?[.message] ?? String(reflecting: e)
        switch state.prefix(2) {
        case "23": return StoreError(.invalidInput, "PostgreSQL refused it (\(state)): \(message); nothing was written")
        case "22": return StoreError(.invalidInput, "PostgreSQL refused a value (\(state)): \(message); nothing was written")
        case "40": return StoreError(.conflict, "PostgreSQL: \(message) (\(state)); nothing was written, the operation can be retried")
        default: return StoreError(.unavailable, "PostgreSQL: \(message) (\(state.isEmpty ? "no SQLSTATE" : state)); nothing was written")
        }
    }

    static func size(_ c: PostgresConnection, _ logger: Logger) async throws -> Int {
        let rows = try await c.query("SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries", logger: logger)
        // Every row sequence is read to its end: a connection cannot run its
        // next query while rows of the last one are unread.
        var n = 0
        for try await v in rows.decode(Int.self) { n = v }
        return n
    }

    /// Fetches the subtree hashes with the given keys in one query.
    static func fetch(_ keys: Set<NodeKey>, _ c: PostgresConnection, _ logger: Logger) async throws -> FetchedHashes {
        guard !keys.isEmpty else { return FetchedHashes([:]) }
        let levels = keys.map { $0.level }, indices = keys.map { Int64($0.index) }
        let rows = try await c.query(
            """
            SELECT n.level, n.idx, n.hash FROM ledger_nodes n
            JOIN unnest(\(levels)::integer[], \(indices)::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx
            """, logger: logger)
        var out: [NodeKey: [UInt8]] = [:]
        for try await (level, idx, hash) in rows.decode((Int, Int64, Data).self) {
            out[NodeKey(level: level, index: Int(idx))] = Array(hash)
        }
        return FetchedHashes(out)
    }

    static func run<T>(_ c: PostgresConnection, _ logger: Logger, _ algorithm: (any SubtreeHashes) throws -> T) async throws -> T {
        let needed = MerkleLog.nodesRead { store in _ = try algorithm(store) }
        let fetched = try await fetch(needed, c, logger)
        do { return try algorithm(fetched) } catch let missing as FetchedHashes.Missing {
            throw StoreError(.corrupt, missing.description)
        }
    }

    public func append(_ entries: [LedgerEntry], sign: TreeHeadSigner?) async throws(StoreError) -> Range<Int> {
        let encoded = try StoreLimits.encode(entries)
        let logger = self.logger
        return try await wrap {
            try await self.client.withTransaction(logger: logger) { c in
                try await Self.lockSequencer(c, logger)
                return try await Self.appendLedger(c, encoded, sign: sign, logger)
            }
        }
    }

    /// Takes the ledger sequencer for the rest of the transaction: one at a
    /// time across every replica of the node. A transaction that appends
    /// takes it before any row lock, so that locks are always taken in one order.
    static func lockSequencer(_ c: PostgresConnection, _ logger: Logger) async throws {
        _ = try await c.query("SELECT pg_advisory_xact_lock(\(Self.sequencerLock))", logger: logger).collect()
    }

    /// Appends encoded entries inside the caller's transaction, which holds
    /// the sequencer lock.
    static func appendLedger(_ c: PostgresConnection, _ encoded: [[UInt8]], sign: TreeHeadSigner?, _ logger: Logger) async throws -> Range<Int> {
        let start = try await Self.size(c, logger)
        guard !encoded.isEmpty else { return start..<start }
        let leaves = encoded.map { MerkleHash.leaf($0) }
        // Which stored siblings the appends read: structure only.
        var createdKeys = Set<NodeKey>(), needed = Set<NodeKey>()
        for i in leaves.indices {
            for n in MerkleLog.hashesCreatedByAppending(leafHash: MerkleHash.empty, at: start + i, sibling: { level, index in
                let k = NodeKey(level: level, index: index)
                if !createdKeys.contains(k) { needed.insert(k) }
                return MerkleHash.empty
            }) { createdKeys.insert(NodeKey(level: n.level, index: n.index)) }
        }
        var known = try await Self.fetch(needed, c, logger).hashes
        var rows: [(Int, Int, [UInt8])] = []
        for (i, leaf) in leaves.enumerated() {
            let created = try MerkleLog.hashesCreatedByAppending(leafHash: leaf, at: start + i) { level, index in
                guard let h = known[NodeKey(level: level, index: index)] else {
                    throw StoreError(.corrupt, "the subtree hash (\(level), \(index)) is missing")
                }
                return h
            }
            for n in created {
                known[NodeKey(level: n.level, index: n.index)] = n.hash
                rows.append((n.level, n.index, n.hash))
            }
        }
        let idx = (start..<(start + encoded.count)).map { Int64($0) }
        _ = try await c.query(
            """
            INSERT INTO ledger_entries (idx, entry, leaf_hash)
            SELECT i, decode(e, 'hex'), decode(l, 'hex')
            FROM unnest(\(idx)::bigint[], \(encoded.map(Hex.encode))::text[], \(leaves.map(Hex.encode))::text[]) AS t(i, e, l)
            """, logger: logger).collect()
        _ = try await c.query(
            """
            INSERT INTO ledger_nodes (level, idx, hash)
            SELECT v, i, decode(h, 'hex')
            FROM unnest(\(rows.map { $0.0 })::integer[], \(rows.map { Int64($0.1) })::bigint[], \(rows.map { Hex.encode($0.2) })::text[]) AS t(v, i, h)
            """, logger: logger).collect()
        let end = start + encoded.count
        if let sign {
            let rootKeys = MerkleLog.nodesRead { _ = try MerkleLog.root($0, size: end) }
            let extra = try await Self.fetch(rootKeys.subtracting(known.keys), c, logger).hashes
            let root = try MerkleLog.root(FetchedHashes(known.merging(extra) { a, _ in a }), size: end)
            let head = try sign(end, root)
            guard head.body.size == end, head.body.root == root else {
                throw StoreError(.invalidInput, "the tree head signed for the append names another size or root")
            }
            _ = try await c.query(
                """
                INSERT INTO tree_heads (size, root, signed) VALUES (\(Int64(end)), \(Data(root)), \(Data(head.derBytes)))
                ON CONFLICT (size) DO UPDATE SET root = EXCLUDED.root, signed = EXCLUDED.signed
                """, logger: logger).collect()
        }
        return start..<end
    }

    public func size() async throws(StoreError) -> Int {
        let logger = self.logger
        return try await wrap { try await self.client.withConnection { c in try await Self.size(c, logger) } }
    }

    func checkedSize(_ size: Int, _ c: PostgresConnection) async throws {
        let current = try await Self.size(c, logger)
        guard size >= 0, size <= current else { throw StoreError(.invalidInput, "size \(size) is beyond the ledger's \(current) entries") }
    }

    public func entry(at index: Int) async throws(StoreError) -> LedgerEntry {
        let logger = self.logger
        let bytes: Data? = try await wrap {
            try await self.client.withConnection { c in
                let rows = try await c.query("SELECT entry FROM ledger_entries WHERE idx = \(Int64(index))", logger: logger)
                var found: Data?
                for try await b in rows.decode(Data.self) { found = b }
                return found
            }
        }
        guard let bytes else { throw StoreError(.notFound, "no ledger entry \(index)") }
        do { return try LedgerEntry(canonical: Array(bytes)) } catch {
            throw StoreError(.corrupt, "ledger entry \(index) does not decode: \(error.reason)")
        }
    }

    public func root(size: Int) async throws(StoreError) -> [UInt8] {
        let logger = self.logger
        return try await wrap {
            try await self.client.withConnection { c in
                try await self.checkedSize(size, c)
                return try await Self.run(c, logger) { try MerkleLog.root($0, size: size) }
            }
        }
    }

    public func inclusionProof(index: Int, size: Int) async throws(StoreError) -> [[UInt8]] {
        let logger = self.logger
        return try await wrap {
            try await self.client.withConnection { c in
                try await self.checkedSize(size, c)
                guard index >= 0, index < size else { throw StoreError(.invalidInput, "entry \(index) is not in a tree of \(size)") }
                return try await Self.run(c, logger) { try MerkleLog.inclusionProof($0, index: index, size: size) }
            }
        }
    }

    public func consistencyProof(old: Int, new: Int) async throws(StoreError) -> [[UInt8]] {
        let logger = self.logger
        return try await wrap {
            try await self.client.withConnection { c in
                try await self.checkedSize(new, c)
                guard old >= 0, old <= new else { throw StoreError(.invalidInput, "a consistency proof runs from a smaller size to a larger") }
                return try await Self.run(c, logger) { try MerkleLog.consistencyProof($0, old: old, new: new) }
            }
        }
    }

    public func signTreeHead(_ sign: @escaping TreeHeadSigner) async throws(StoreError) -> SignedTreeHead? {
        let logger = self.logger
        let signed = try await wrap {
            try await self.client.withTransaction(logger: logger) { c -> Data? in
                try await Self.lockSequencer(c, logger)
                let size = try await Self.size(c, logger)
                guard size > 0 else { return nil }
                for try await existing in try await c.query("SELECT signed FROM tree_heads WHERE size = \(Int64(size))", logger: logger).decode(Data.self) {
                    return existing
                }
                let root = try await Self.run(c, logger) { try MerkleLog.root($0, size: size) }
                let head = try sign(size, root)
                guard head.body.size == size, head.body.root == root else {
                    throw StoreError(.invalidInput, "the tree head signed names another size or root")
                }
                _ = try await c.query(
                    "INSERT INTO tree_heads (size, root, signed) VALUES (\(Int64(size)), \(Data(root)), \(Data(head.derBytes)))", logger: logger
                ).collect()
                return Data(head.derBytes)
            }
        }
        guard let signed else { return nil }
        do { return try SignedTreeHead(canonical: Array(signed)) } catch { throw StoreError(.corrupt, "a stored tree head does not decode: \(error.reason)") }
    }

    public func frontier(size: Int) async throws(StoreError) -> [[UInt8]] {
        let logger = self.logger
        return try await wrap {
            try await self.client.withConnection { c in
                try await self.checkedSize(size, c)
                return try await Self.run(c, logger) { h in
                    try CompactRange.frontier(size: size).map { try h.hash(level: $0.level, index: $0.index) }
                }
            }
        }
    }

    public func latestTreeHead() async throws(StoreError) -> SignedTreeHead? {
        try await storedHead("SELECT signed FROM tree_heads ORDER BY size DESC LIMIT 1", "the latest tree head")
    }

    public func treeHead(size: Int) async throws(StoreError) -> SignedTreeHead? {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        return try await storedHead("SELECT signed FROM tree_heads WHERE size = \(Int64(size))", "the tree head at size \(size)")
    }

    /// The one signed head `query` selects, if any.
    private func storedHead(_ query: PostgresQuery, _ what: String) async throws(StoreError) -> SignedTreeHead? {
        let logger = self.logger
        let bytes: Data? = try await wrap {
            try await self.client.withConnection { c in
                let rows = try await c.query(query, logger: logger)
                var found: Data?
                for try await b in rows.decode(Data.self) { found = b }
                return found
            }
        }
        guard let bytes else { return nil }
        do { return try SignedTreeHead(canonical: Array(bytes)) } catch {
            throw StoreError(.corrupt, "\(what) does not decode: \(error.reason)")
        }
    }

    /// PostgreSQL's own check of this database: every B-tree index of the
    /// schema checked against its table (amcheck's `bt_index_check` with
    /// `heapallindexed`). "ok", or what it found. Needs the amcheck
    /// extension (PostgreSQL's contrib) and the right to create it.
    public func integrityCheck() async throws(StoreError) -> String {
        let logger = self.logger
        return try await wrap {
            try await self.client.withConnection { c in
                _ = try await c.query("CREATE EXTENSION IF NOT EXISTS amcheck", logger: logger).collect()
                var indexes: [(Int64, String)] = []
                let rows = try await c.query(
                    """
                    SELECT c.oid::int8, c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND n.nspname = current_schema() ORDER BY 2
                    """, logger: logger)
                for try await index in rows.decode((Int64, String).self) { indexes.append(index) }
                var problems: [String] = []
                for (oid, name) in indexes {
                    do {
                        _ = try await c.query("SELECT bt_index_check(\(oid)::oid::regclass, true)", logger: logger).collect()
                    } catch let e as PSQLError {
                        problems.append("\(name): \(e.serverInfo?[.message] ?? "\(e)")")
                    }
                }
                return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
            }
        }
    }

    public func verify(trust: TrustStore?) async throws(StoreError) -> LedgerVerification {
        let logger = self.logger
        return try await wrap {
            try await self.client.withTransaction(logger: logger) { c in
                var heads: [(size: Int, signed: [UInt8])] = []
                for try await (size, signed) in try await c.query("SELECT size, signed FROM tree_heads ORDER BY size", logger: logger).decode((Int64, Data).self) {
                    heads.append((Int(size), Array(signed)))
                }
                var audit = LedgerAudit(treeHeads: heads, trust: trust)
                let rows = try await c.query("SELECT idx, entry, leaf_hash FROM ledger_entries ORDER BY idx", logger: logger)
                for try await (idx, entry, stored) in rows.decode((Int64, Data, Data).self) {
                    audit.add(index: Int(idx), entry: Array(entry), storedLeaf: Array(stored))
                }
                let size = audit.size
                return audit.finish(storedRoot: try await Self.run(c, logger) { try MerkleLog.root($0, size: size) })
            }
        }
    }
}
