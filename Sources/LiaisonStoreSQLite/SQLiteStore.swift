internal import Foundation
internal import GRDB
internal import GRDBSQLite
internal import LiaisonLedger
public import LiaisonSealing
public import LiaisonStore

#if canImport(Glibc)
    internal import Glibc
#endif

/// The embedded default store: one SQLite file per node, in WAL mode, with
/// `synchronous=FULL` so that a commit is on disk before it is acknowledged
/// (WAL with `NORMAL`, GRDB's default for pools, can lose the last commits
/// on power loss). The data directory is locked against a second process.
public final class SQLiteStore: LedgerStore, @unchecked Sendable {
    // @unchecked: `pool` is a GRDB DatabasePool (Sendable: one writer, and
    // readers that see committed snapshots); `lockDescriptor` is written
    // only in init and deinit.
    let pool: DatabasePool
    private let lockDescriptor: Int32
    public let directory: String
    /// Seals payloads at rest; without it the ledger and queues work but
    /// items cannot be stored or read.
    let storageKey: StorageKey?
    let group: GroupCommit
    let checkpointer: Checkpointer
    /// Upper-level subtree hashes read by roots and proofs.
    let cache = SubtreeCache()

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: String, storageKey: StorageKey? = nil) throws(StoreError) {
        self.directory = directory
        self.storageKey = storageKey
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.unavailable, "cannot create \(directory): \(error.localizedDescription)")
        }
        // Close-on-exec: a process this one starts must not inherit (and hold) the lock.
        let fd = open(directory + "/node.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.unavailable, "cannot open \(directory)/node.lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StoreError(.locked, "\(directory) is in use by another process (node.lock is held)")
        }
        lockDescriptor = fd
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA page_size = 16384")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Readers map the file: a proof's dozen page reads cost no system call.
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        config.maximumReaderCount = 4
        do {
            // Everything that can fail runs before the last property is set:
            // a throw after that would run deinit, which closes the lock too.
            let pool = try DatabasePool(path: directory + "/node.sqlite", configuration: config)
            try Self.migrator.migrate(pool)
            let checkpointer = try Checkpointer(path: directory + "/node.sqlite")
            let (journal, synchronous) = try pool.writeWithoutTransaction { db in
                // GRDB sets synchronous=NORMAL on the writer after
                // prepareDatabase; set FULL here, then read it back.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // 64 MiB of page cache for the writer: batch inserts touch the
                // indexes of the whole table.
                try db.execute(sql: "PRAGMA cache_size = -65536")
                return (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
            }
            // Read back: a commit must be durable before it is acknowledged.
            guard journal == "wal", synchronous == 2 else {
                throw StoreError(.durability, "SQLite runs with journal_mode=\(journal), synchronous=\(synchronous); WAL and FULL (2) are required")
            }
            pool.writeWithoutTransaction { db in checkpointer.install(on: db) }
            self.pool = pool
            self.group = GroupCommit(queue: pool)
            self.checkpointer = checkpointer
        } catch let e as StoreError {
            close(fd)
            throw e
        } catch {
            close(fd)
            throw StoreError(.unavailable, "cannot open \(directory)/node.sqlite: \(error)")
        }
    }

    deinit {
        pool.writeWithoutTransaction { db in _ = sqlite3_wal_hook(db.sqliteConnection, nil, nil) }
        checkpointer.waitUntilIdle()
        close(lockDescriptor)
    }

    /// The schema belongs to migrations; SQLite enforces what it can.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-ledger") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ledger_entries (
                        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
                        entry BLOB NOT NULL CHECK (length(entry) > 0),
                        leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
                    ) STRICT;
                    CREATE TABLE ledger_nodes (
                        level INTEGER NOT NULL CHECK (level >= 0),
                        idx INTEGER NOT NULL CHECK (idx >= 0),
                        hash BLOB NOT NULL CHECK (length(hash) = 32),
                        PRIMARY KEY (level, idx)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE tree_heads (
                        size INTEGER PRIMARY KEY CHECK (size >= 0),
                        root BLOB NOT NULL CHECK (length(root) = 32),
                        signed BLOB NOT NULL
                    ) STRICT;
                    """)
        }
        m.registerMigration("v2-ledger-hashes") { db in
            // One integer key per interior subtree hash (level << 56 | index):
            // an append inserts one row per completed subtree into a rowid
            // table; leaf hashes are read from ledger_entries, not stored twice.
            try db.execute(
                sql: """
                    CREATE TABLE ledger_hashes (
                        key INTEGER PRIMARY KEY CHECK (key >= 72057594037927936),
                        hash BLOB NOT NULL CHECK (length(hash) = 32)
                    ) STRICT;
                    INSERT INTO ledger_hashes (key, hash) SELECT (level << 56) | idx, hash FROM ledger_nodes WHERE level > 0;
                    DROP TABLE ledger_nodes;
                    """)
        }
        registerNodeMigrations(&m)
        return m
    }

    /// SQLite's own integrity check ("ok" when sound).
    public func integrityCheck() async throws(StoreError) -> String {
        try await scan { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Copies every committed page from the WAL into the database file and
    /// empties the WAL (waiting for readers as needed): what the background
    /// checkpointer does bit by bit, at once — before a backup, or to
    /// measure reads in a steady state.
    public func checkpoint() async throws(StoreError) {
        // A reader or the background checkpointer may hold the WAL a moment.
        for attempt in 1...100 {
            await checkpointer.drain()
            do {
                _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                return
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY && attempt < 100 {
                try? await Task.sleep(for: .milliseconds(10))
            } catch {
                throw StoreError(.unavailable, "SQLite checkpoint: \(error)")
            }
        }
    }

    /// The synchronous level in force on the writer's connection (2 = FULL).
    public func synchronousLevel() async throws(StoreError) -> Int {
        do { return try onWriter { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } } catch {
            throw StoreError(.unavailable, "SQLite: \(error)")
        }
    }

    /// The synchronous forms of GRDB's accessors (an async caller would get the async ones).
    func readNow<T>(_ body: (Database) throws -> T) throws -> T { try pool.read(body) }
    func onWriter<T>(_ body: (Database) throws -> T) throws -> T { try pool.writeWithoutTransaction(body) }

    /// Runs `body` on a reader: a snapshot of what is committed, never
    /// waiting for the writer. Synchronous on the calling thread — a read is
    /// a few page lookups, shorter than a hop to another thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try readNow(body)
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(.unavailable, "SQLite: \(error)")
        }
    }

    /// Runs a long read (a scan of the whole ledger, an integrity check) on
    /// a reader off the calling thread, which it would hold too long.
    func scan<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(.unavailable, "SQLite: \(error)")
        }
    }

    /// Runs `body` in a transaction shared with concurrent writers (group
    /// commit); returns once it is durable.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await group.write(body)
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(.unavailable, "SQLite: \(error); nothing was written")
        }
    }

    // MARK: LedgerStore

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
        static let empty = LedgerBatch([])

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
    /// tree head of the new size. The new hashes are computed first, in
    /// memory (siblings created in the batch come from memory; older ones are
    /// read once each); the tree head is then signed on another thread while
    /// this one inserts the rows.
    static func appendLedger(_ db: Database, _ batch: LedgerBatch, sign: TreeHeadSigner?) throws -> Range<Int> {
        let start = try Self.size(db)
        guard !batch.entries.isEmpty else { return start..<start }
        let end = start + batch.entries.count
        let stored = try DBHashes(db: db)
        var created: [NodeKey: [UInt8]] = [:]
        created.reserveCapacity(batch.entries.count * 2)
        var interior: [(key: Int64, hash: [UInt8])] = []
        interior.reserveCapacity(batch.entries.count)
        for (offset, leaf) in batch.leaves.enumerated() {
            let nodes = try MerkleLog.hashesCreatedByAppending(leafHash: leaf, at: start + offset) { level, i in
                try created[NodeKey(level: level, index: i)] ?? stored.hash(level: level, index: i)
            }
            for n in nodes {
                created[NodeKey(level: n.level, index: n.index)] = n.hash
                if n.level > 0 { interior.append((DBHashes.key(level: n.level, index: n.index), n.hash)) }
            }
        }
        var signing: Signing?
        if let sign {
            let root = try MerkleLog.root(Overlay(created: created, stored: stored), size: end)
            signing = Signing(size: end, root: root, sign: sign)
        }
        try insertRows(db, "INSERT INTO ledger_entries (idx, entry, leaf_hash) VALUES", "(?, ?, ?)", batch.entries.count) { statement, row, column in
            statement.bind(column, start + row)
            statement.bind(column + 1, batch.entries[row])
            statement.bind(column + 2, batch.leaves[row])
        }
        try insertRows(db, "INSERT INTO ledger_hashes (key, hash) VALUES", "(?, ?)", interior.count) { statement, row, column in
            statement.bind(column, interior[row].key)
            statement.bind(column + 1, interior[row].hash)
        }
        if let signing {
            let head = try signing.wait()
            guard head.body.size == end, head.body.root == signing.root else {
                throw StoreError(.invalidInput, "the tree head signed for the append names another size or root")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO tree_heads (size, root, signed) VALUES (?, ?, ?)",
                arguments: [end, Data(signing.root), Data(head.derBytes)])
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

    /// The hashes of the batch being appended over those already stored.
    struct Overlay: SubtreeHashes {
        let created: [NodeKey: [UInt8]]
        let stored: DBHashes
        func hash(level: Int, index: Int) throws -> [UInt8] {
            try created[NodeKey(level: level, index: index)] ?? stored.hash(level: level, index: index)
        }
    }

    /// A tree head being signed on another thread (a hybrid signature takes
    /// about as long as inserting a thousand rows).
    final class Signing: @unchecked Sendable {
        // @unchecked: `result` is written once before `done` is signalled
        // and read only after waiting for it.
        let root: [UInt8]
        private var result: Result<SignedTreeHead, any Error>?
        private let done = DispatchSemaphore(value: 0)

        init(size: Int, root: [UInt8], sign: @escaping TreeHeadSigner) {
            self.root = root
            DispatchQueue.global(qos: .userInitiated).async {
                self.result = Result { try sign(size, root) }
                self.done.signal()
            }
        }

        func wait() throws -> SignedTreeHead {
            done.wait()
            return try result!.get()
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

    public func latestTreeHead() async throws(StoreError) -> SignedTreeHead? {
        let bytes = try await run { db in try Data.fetchOne(db, sql: "SELECT signed FROM tree_heads ORDER BY size DESC LIMIT 1") }
        guard let bytes else { return nil }
        do { return try SignedTreeHead(canonical: Array(bytes)) } catch {
            throw StoreError(.corrupt, "the latest tree head does not decode: \(error.reason)")
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
            let rows = try Row.fetchCursor(db, sql: "SELECT idx, entry, leaf_hash FROM ledger_entries ORDER BY idx")
            while let row = try rows.next() {
                let entry: Data = row["entry"], stored: Data = row["leaf_hash"]
                audit.add(index: row["idx"], entry: Array(entry), storedLeaf: Array(stored))
            }
            return audit.finish(storedRoot: try MerkleLog.root(DBHashes(db: db), size: audit.size))
        }
    }
}

/// Stored subtree hashes read inside one SQLite transaction: leaves from
/// `ledger_entries`, interior subtrees from `ledger_hashes`. The two
/// statements are looked up once per root or proof, not once per read.
struct DBHashes: SubtreeHashes {
    let leaf: RawStatement
    let interior: RawStatement
    let cache: SubtreeCache?

    init(db: Database, cache: SubtreeCache? = nil) throws {
        leaf = RawStatement(try db.cachedStatement(sql: "SELECT leaf_hash FROM ledger_entries WHERE idx = ?"), db)
        interior = RawStatement(try db.cachedStatement(sql: "SELECT hash FROM ledger_hashes WHERE key = ?"), db)
        self.cache = cache
    }

    static func key(level: Int, index: Int) -> Int64 { Int64(level) << 56 | Int64(index) }

    /// Runs a root or proof computation over the stored hashes.
    static func run<T>(_ db: Database, cache: SubtreeCache, _ algorithm: (DBHashes) throws -> T) throws -> T {
        try algorithm(DBHashes(db: db, cache: cache))
    }

    func hash(level: Int, index: Int) throws -> [UInt8] {
        let key = Self.key(level: level, index: index)
        if level >= SubtreeCache.minimumLevel, let h = cache?.get(key) { return h }
        let statement = level == 0 ? leaf : interior
        statement.bind(1, level == 0 ? Int64(index) : key)
        guard let h = try statement.blob(), h.count == 32 else {
            throw StoreError(.corrupt, "the subtree hash (\(level), \(index)) is missing")
        }
        if level >= SubtreeCache.minimumLevel { cache?.put(key, h) }
        return h
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
