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
            // Transient data in memory: above all the sub-journal of the
            // savepoint each group-commit writer runs in. On disk, SQLite
            // spilled it to a new file in /var/tmp once a write touched more
            // than four 16 KiB pages, which it created, wrote and deleted
            // for nearly every write. The sub-journal holds the pages of one
            // group's transaction; the other transient data (sorts, temp
            // indexes of this store's queries) is bounded by their limits.
            // None of it is durable state: the WAL is.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        config.maximumReaderCount = 4
        // The checkpointer's connection, or the closing connections of a
        // store just released in this process, may hold a lock a moment.
        config.busyMode = .timeout(10)
        do {
            // Everything that can fail runs before the last property is set:
            // a throw after that would run deinit, which closes the lock too.
            let pool = try DatabasePool(path: directory + "/node.sqlite", configuration: config)
            try Self.migrator.migrate(pool)
            // This process holds the directory's lock, so no other process
            // holds a claim: those of an earlier one (killed mid-batch) are
            // void, and their tasks are due again now rather than when their
            // leases run out. A peer answers a batch it already recorded with
            // its first outcomes, so nothing is applied twice.
            try pool.write { db in
                for table in ["outbox", "statement_outbox", "inbox"] {
                    try db.execute(sql: "UPDATE \(table) SET state = 'pending', owner = NULL, lease_until = NULL WHERE state = 'claimed'")
                }
            }
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
    func unsafeReadNow<T>(_ body: (Database) throws -> T) throws -> T { try pool.unsafeRead(body) }
    func onWriter<T>(_ body: (Database) throws -> T) throws -> T { try pool.writeWithoutTransaction(body) }

    /// Runs `body` on a reader: a snapshot of what is committed (one read
    /// transaction), never waiting for the writer. Synchronous on the
    /// calling thread — a read is a few page lookups, shorter than a hop to
    /// another thread. The transaction is begun and ended with prepared
    /// statements: GRDB's `read` parses BEGIN and COMMIT each time, more than
    /// a lookup by key costs. (The one-statement look-ups every request makes,
    /// of its session or token, need no transaction: ``lookUp(_:_:_:_:)``.)
    /// The readers' connections are opened read-only.
    func run<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try unsafeReadNow { db in
                try RawStatement(db.cachedStatement(sql: "BEGIN DEFERRED"), db).run()
                do {
                    let result = try body(db)
                    try RawStatement(db.cachedStatement(sql: "COMMIT"), db).run()
                    return result
                } catch {
                    try? RawStatement(db.cachedStatement(sql: "ROLLBACK"), db).run()
                    throw error
                }
            }
        } catch { throw Self.storeError(error) }
    }

    /// Runs a long read (a scan of the whole ledger, an integrity check) on
    /// a reader off the calling thread, which it would hold too long.
    func scan<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await pool.read(body) } catch { throw Self.storeError(error) }
    }

    /// Runs `body` in a transaction shared with concurrent writers (group
    /// commit); returns once it is durable. `durable: false` only for a
    /// claim of queued work (see ``GroupCommit``).
    func write<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await group.write(durable: durable, body) } catch { throw Self.storeError(error, "; nothing was written") }
    }

    /// A store error as it was thrown; anything else (SQLite's, through
    /// GRDB) as `unavailable`.
    static func storeError(_ error: any Error, _ note: String = "") -> StoreError {
        error as? StoreError ?? StoreError(.unavailable, "SQLite: \(error)\(note)")
    }
}
