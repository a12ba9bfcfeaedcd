internal import Foundation
internal import GRDB
internal import LiaisonLedger
public import LiaisonSealing
public import LiaisonStore

/// The ledger of the SQLite store: appends (hashes computed in memory,
/// rows inserted in bulk, the tree head signed meanwhile), roots, proofs
/// and the fsck, over `ledger_entries` and `ledger_hashes`.
extension SQLiteStore {

    public func append(_ entries: [LedgerEntry], sign: TreeHeadSigner?) async throws(StoreError) -> Range<Int> {
        let batch = try await LedgerBatch.concurrently(entries)
        return try await write { db in try Self.appendLedger(db, batch, sign: sign) }
    }

    /// Encoded entries and their leaf hashes, computed before the write
    /// transaction (they do not depend on the entries' positions).
    struct LedgerBatch: Sendable {
        var entries: [[UInt8]]
        var leaves: [[UInt8]]
        init(_ entries: [[UInt8]]) {
            self.entries = entries
            leaves = entries.map { MerkleHash.leaf($0) }
        }
        init(entries: [[UInt8]], leaves: [[UInt8]]) {
            (self.entries, self.leaves) = (entries, leaves)
        }

        /// A large batch encoded and hashed in two halves at once.
        static func concurrently(_ entries: [LedgerEntry]) async throws(StoreError) -> LedgerBatch {
            guard entries.count >= 256 else { return LedgerBatch(try StoreLimits.encode(entries)) }
            try StoreLimits.check(entries)
            let half = entries.count / 2
            async let second = LedgerBatch(entries[half...].map(\.derBytes))
            let first = LedgerBatch(entries[..<half].map(\.derBytes))
            let rest = await second
            let batch = LedgerBatch(entries: first.entries + rest.entries, leaves: first.leaves + rest.leaves)
            try StoreLimits.check(encoded: batch.entries)
            return batch
        }
    }

    /// Appends a batch inside the caller's transaction: the entries, the
    /// perfect-subtree hashes they complete and, with `sign`, the signed
    /// tree head of the new size.
    static func appendLedger(_ db: Database, _ batch: LedgerBatch, sign: TreeHeadSigner?) throws -> Range<Int> {
        var append = try beginAppend(db, batch)
        append.startSigning(sign)
        return try finishAppend(db, append)
    }

    /// An append begun: its place, its new subtree hashes and root being
    /// computed on another thread, then its tree head being signed.
    struct PendingAppend {
        let start: Int
        let batch: LedgerBatch
        let hashes: Background<AppendHashes>?
        var signing: Background<SignedTreeHead>? = nil
        var end: Int { start + batch.entries.count }

        /// Starts signing the new tree head on another thread. Called once
        /// the act the entries record is written and nothing is left that
        /// could refuse it: a node signs no head for a tree it then drops.
        mutating func startSigning(_ sign: TreeHeadSigner?) {
            guard let sign, let hashes else { return }
            let size = end
            // The signature follows the root on the signing queue; the writer goes on.
            signing = Background(on: treeHeadSigning) { try sign(size, try hashes.wait().root) }
        }
    }

    struct AppendHashes {
        let interior: [(key: Int64, hash: [UInt8])]
        let root: [UInt8]
    }

    /// The first part of an append: the log's size and frontier (one stored
    /// hash per bit of the size) read here; the new hashes and the root
    /// computed from them on another thread, while this one writes the rows
    /// of the act the entries record.
    static func beginAppend(_ db: Database, _ batch: LedgerBatch) throws -> PendingAppend {
        let start = try Self.size(db)
        guard !batch.entries.isEmpty else { return PendingAppend(start: start, batch: batch, hashes: nil) }
        let stored = try DBHashes(db: db)
        let frontier = try CompactRange.frontier(size: start).map { try stored.hash(level: $0.level, index: $0.index) }
        let hashes = Background(on: ledgerHashing) {
            var range = CompactRange(size: start, frontier: frontier)
            var interior: [(key: Int64, hash: [UInt8])] = []
            interior.reserveCapacity(batch.entries.count / 4)
            for leaf in batch.leaves {
                range.append(leaf) { level, index, hash in
                    if level >= DBHashes.lowestStoredLevel { interior.append((DBHashes.key(level: level, index: index), hash)) }
                }
            }
            return AppendHashes(interior: interior, root: range.root)
        }
        return PendingAppend(start: start, batch: batch, hashes: hashes)
    }

    /// The last part: the rows, and the signed tree head once it is made
    /// (the signature is made while the entries are inserted).
    static func finishAppend(_ db: Database, _ pending: PendingAppend) throws -> Range<Int> {
        let (start, end, batch) = (pending.start, pending.end, pending.batch)
        guard let hashes = pending.hashes else { return start..<start }
        try insertRows(db, "INSERT INTO ledger_entries (idx, entry) VALUES", "(?, ?)", batch.entries.count) { statement, row, column in
            statement.bind(column, start + row)
            statement.bind(column + 1, batch.entries[row])
        }
        let computed = try hashes.wait()
        try insertRows(db, "INSERT INTO ledger_hashes (key, hash) VALUES", "(?, ?)", computed.interior.count) { statement, row, column in
            statement.bind(column, computed.interior[row].key)
            statement.bind(column + 1, computed.interior[row].hash)
        }
        if let signing = pending.signing {
            let head = try signing.wait()
            guard head.body.size == end, head.body.root == computed.root else {
                throw StoreError(.invalidInput, "the tree head signed for the append names another size or root")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO tree_heads (size, root, signed) VALUES (?, ?, ?)",
                arguments: [end, Data(computed.root), Data(head.derBytes)])
        }
        return start..<end
    }

    /// Inserts `count` rows, 64 per statement (one statement step per row
    /// costs more than SQLite's work for a small row): `bind` binds row
    /// `row` from parameter `column` on.
    static func insertRows(
        _ db: Database, _ insert: String, _ tuple: String, _ count: Int, bind: (RawStatement, Int, Int32) -> Void
    ) throws {
        let perStatement = 64
        let width = Int32(tuple.filter { $0 == "?" }.count)
        func sql(_ n: Int) -> String { insert + " " + Array(repeating: tuple, count: n).joined(separator: ", ") }
        var row = 0
        if count >= perStatement {
            let full = try db.cachedStatement(sql: sql(perStatement))
            while count - row >= perStatement {
                let statement = RawStatement(full, db)
                for k in 0..<perStatement { bind(statement, row + k, Int32(k) * width + 1) }
                try statement.run()
                row += perStatement
            }
        }
        for k in row..<count {
            let statement = RawStatement(try db.cachedStatement(sql: sql(1)), db)
            bind(statement, k, 1)
            try statement.run()
        }
    }

    static func size(_ db: Database) throws -> Int {
        let statement = RawStatement(try db.cachedStatement(sql: "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries"), db)
        return Int(try statement.int64() ?? 0)
    }

    public func size() async throws(StoreError) -> Int { try await run { db in try Self.size(db) } }

    public func entry(at index: Int) async throws(StoreError) -> LedgerEntry {
        let bytes = try await run { db in try Data.fetchOne(db, sql: "SELECT entry FROM ledger_entries WHERE idx = ?", arguments: [index]) }
        guard let bytes else { throw StoreError(.notFound, "no ledger entry \(index)") }
        do { return try LedgerEntry(canonical: Array(bytes)) } catch {
            throw StoreError(.corrupt, "ledger entry \(index) does not decode: \(error.reason)")
        }
    }

    func checkedSize(_ size: Int, _ db: Database) throws {
        let current = try Self.size(db)
        guard size >= 0, size <= current else { throw StoreError(.invalidInput, "size \(size) is beyond the ledger's \(current) entries") }
    }

    public func root(size: Int) async throws(StoreError) -> [UInt8] {
        try await run { db in
            try self.checkedSize(size, db)
            return try DBHashes.run(db, cache: self.cache) { try MerkleLog.root($0, size: size) }
        }
    }

    public func inclusionProof(index: Int, size: Int) async throws(StoreError) -> [[UInt8]] {
        try await run { db in
            try self.checkedSize(size, db)
            guard index >= 0, index < size else { throw StoreError(.invalidInput, "entry \(index) is not in a tree of \(size)") }
            return try DBHashes.run(db, cache: self.cache) { try MerkleLog.inclusionProof($0, index: index, size: size) }
        }
    }

    public func consistencyProof(old: Int, new: Int) async throws(StoreError) -> [[UInt8]] {
        try await run { db in
            try self.checkedSize(new, db)
            guard old >= 0, old <= new else { throw StoreError(.invalidInput, "a consistency proof runs from a smaller size to a larger") }
            return try DBHashes.run(db, cache: self.cache) { try MerkleLog.consistencyProof($0, old: old, new: new) }
        }
    }

    public func signTreeHead(_ sign: @escaping TreeHeadSigner) async throws(StoreError) -> SignedTreeHead? {
        let signed = try await write { db -> Data? in
            let size = try Self.size(db)
            guard size > 0 else { return nil }
            if let existing = try Data.fetchOne(db, sql: "SELECT signed FROM tree_heads WHERE size = ?", arguments: [size]) { return existing }
            let root = try DBHashes.run(db, cache: self.cache) { try MerkleLog.root($0, size: size) }
            let head = try sign(size, root)
            guard head.body.size == size, head.body.root == root else {
                throw StoreError(.invalidInput, "the tree head signed names another size or root")
            }
            try db.execute(sql: "INSERT INTO tree_heads (size, root, signed) VALUES (?, ?, ?)", arguments: [size, Data(root), Data(head.derBytes)])
            return Data(head.derBytes)
        }
        guard let signed else { return nil }
        do { return try SignedTreeHead(canonical: Array(signed)) } catch { throw StoreError(.corrupt, "a stored tree head does not decode: \(error.reason)") }
    }

    public func frontier(size: Int) async throws(StoreError) -> [[UInt8]] {
        try await run { db in
            try self.checkedSize(size, db)
            return try DBHashes.run(db, cache: self.cache) { h in
                try CompactRange.frontier(size: size).map { try h.hash(level: $0.level, index: $0.index) }
            }
        }
    }

    public func latestTreeHead() async throws(StoreError) -> SignedTreeHead? {
        try await storedHead("SELECT signed FROM tree_heads ORDER BY size DESC LIMIT 1", [], "the latest tree head")
    }

    public func treeHead(size: Int) async throws(StoreError) -> SignedTreeHead? {
        guard size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        return try await storedHead("SELECT signed FROM tree_heads WHERE size = ?", [size], "the tree head at size \(size)")
    }

    /// The one signed head `sql` selects, if any.
    private func storedHead(_ sql: String, _ arguments: StatementArguments, _ what: String) async throws(StoreError) -> SignedTreeHead? {
        let bytes = try await run { db in try Data.fetchOne(db, sql: sql, arguments: arguments) }
        guard let bytes else { return nil }
        do { return try SignedTreeHead(canonical: Array(bytes)) } catch {
            throw StoreError(.corrupt, "\(what) does not decode: \(error.reason)")
        }
    }

    public func verify(trust: TrustStore?) async throws(StoreError) -> LedgerVerification {
        try await scan { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            let heads = try Row.fetchAll(db, sql: "SELECT size, signed FROM tree_heads ORDER BY size").map { row in
                (size: row["size"] as Int, signed: Array(row["signed"] as Data))
            }
            var audit = LedgerAudit(
                treeHeads: heads, trust: trust,
                integrityProblems: integrity == ["ok"] ? [] : ["SQLite integrity check: \(integrity.joined(separator: "; "))"])
            // Every stored subtree hash is compared with the one its entries give.
            let interior = RawStatement(try db.cachedStatement(sql: "SELECT hash FROM ledger_hashes WHERE key = ?"), db)
            let rows = try Row.fetchCursor(db, sql: "SELECT idx, entry FROM ledger_entries ORDER BY idx")
            while let row = try rows.next() {
                let entry: Data = row["entry"]
                audit.add(index: row["idx"], entry: Array(entry), storedLeaf: nil)
                for c in audit.completed where c.level >= DBHashes.lowestStoredLevel {
                    interior.bind(1, DBHashes.key(level: c.level, index: c.index))
                    if try interior.blob() != c.hash { audit.storedHashDiffers(level: c.level, index: c.index) }
                }
            }
            return audit.finish(storedRoot: try MerkleLog.root(DBHashes(db: db), size: audit.size))
        }
    }
}

/// Subtree hashes read inside one SQLite transaction. Subtrees of up to
/// four leaves are hashed from their entries in `ledger_entries` (the
/// entries are read in one range scan; a few SHA-256 of short inputs cost
/// less than storing the hashes: they would be 7 rows in 8 of
/// `ledger_hashes`); larger ones are read from `ledger_hashes`. The
/// statements are looked up once per root or proof, not once per read.
struct DBHashes: SubtreeHashes {
    /// Subtrees of 2^3 = 8 leaves and up are stored.
    static let lowestStoredLevel = 3
    let entries: RawStatement
    let interior: RawStatement
    let cache: SubtreeCache?
    /// The leaf hashes of the last block of 8 entries read: a proof asks for
    /// up to three small subtrees next to one leaf, all in its block.
    let block = Block()

    final class Block {
        var start = -1
        var leaves: [[UInt8]] = []
    }

    init(db: Database, cache: SubtreeCache? = nil) throws {
        entries = RawStatement(try db.cachedStatement(sql: "SELECT idx, entry FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx"), db)
        interior = RawStatement(try db.cachedStatement(sql: "SELECT hash FROM ledger_hashes WHERE key = ?"), db)
        self.cache = cache
    }

    static func key(level: Int, index: Int) -> Int64 { Int64(level) << 56 | Int64(index) }

    /// Runs a root or proof computation over the stored hashes.
    static func run<T>(_ db: Database, cache: SubtreeCache, _ algorithm: (DBHashes) throws -> T) throws -> T {
        try algorithm(DBHashes(db: db, cache: cache))
    }

    func hash(level: Int, index: Int) throws -> [UInt8] {
        if level < Self.lowestStoredLevel { return try fromEntries(level: level, index: index) }
        let key = Self.key(level: level, index: index)
        if level >= SubtreeCache.minimumLevel, let h = cache?.get(key) { return h }
        interior.bind(1, key)
        guard let h = try interior.blob(), h.count == 32 else {
            throw StoreError(.corrupt, "the subtree hash (\(level), \(index)) is missing")
        }
        if level >= SubtreeCache.minimumLevel { cache?.put(key, h) }
        return h
    }

    /// The hash of a small perfect subtree, from its entries (the block of
    /// 8 entries around it is read once).
    func fromEntries(level: Int, index: Int) throws -> [UInt8] {
        let first = index << level, count = 1 << level
        let start = first & ~7
        if block.start != start {
            entries.bind(1, start)
            entries.bind(2, start + 8)
            var leaves: [[UInt8]] = []
            leaves.reserveCapacity(8)
            var expected = Int64(start), gap = false
            try entries.rows { idx, entry in
                // The leaves stop at the first missing or empty entry.
                if gap || idx != expected || entry.isEmpty { gap = true } else { leaves.append(MerkleHash.leaf(entry)) }
                expected += 1
            }
            (block.start, block.leaves) = (start, leaves)
        }
        guard first - start + count <= block.leaves.count else {
            throw StoreError(.corrupt, "ledger entries \(first)–\(first + count - 1) are missing")
        }
        var hashes = Array(block.leaves[(first - start)..<(first - start + count)])
        while hashes.count > 1 {
            hashes = stride(from: 0, to: hashes.count, by: 2).map { MerkleHash.node(hashes[$0], hashes[$0 + 1]) }
        }
        return hashes[0]
    }
}

/// The stored hashes of large subtrees (256 leaves and up), kept in memory
/// once read: a subtree hash never changes once written, and every proof
/// climbs through the same few upper levels. Bounded; emptied when full.
final class SubtreeCache: @unchecked Sendable {
    // @unchecked: `hashes` is guarded by `lock`.
    static let minimumLevel = 8
    static let capacity = 1 << 18
    private let lock = NSLock()
    private var hashes: [Int64: [UInt8]] = [:]

    func get(_ key: Int64) -> [UInt8]? { lock.withLock { hashes[key] } }

    func put(_ key: Int64, _ hash: [UInt8]) {
        lock.withLock {
            if hashes.count >= Self.capacity { hashes.removeAll(keepingCapacity: true) }
            hashes[key] = hash
        }
    }
}

/// Work started on another thread now and waited for later: the hashes of
/// an append and its tree head's signature (a hybrid signature takes about
/// as long as inserting a thousand rows), made while the writer inserts.
///
/// The work runs on private serial queues, which libdispatch serves from its
/// overcommit pool (a thread is made when none is free), not on the global
/// concurrent queues, whose pool is as wide as the machine's cores and can
/// be filled by other blocked work while the writer waits for this.
final class Background<T>: @unchecked Sendable {
    // @unchecked: `result` is written once before `done` is signalled and
    // read only after waiting for it.
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) {
        queue.async {
            self.result = Result { try work() }
            self.done.signal()
        }
    }

    /// The result, once the work is done; may be asked for more than once.
    func wait() throws -> T {
        done.wait()
        done.signal()  // for the next wait
        return try result!.get()
    }
}

/// Pure computation only (no locks, no I/O), so one queue of each serves every store.
private let ledgerHashing = DispatchQueue(label: "liaison.sqlite.ledger-hashes", qos: .userInitiated)
private let treeHeadSigning = DispatchQueue(label: "liaison.sqlite.tree-head-signing", qos: .userInitiated)
