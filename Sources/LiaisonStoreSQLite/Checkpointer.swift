internal import Foundation
internal import GRDB
internal import GRDBSQLite

/// Moves committed pages from the WAL into the database file on a second
/// connection, off the writer's path. SQLite's automatic checkpoint runs
/// inside the commit that crosses its threshold, so every second or third
/// batch paid for copying the WAL and syncing the database file before it
/// was acknowledged. Here the writer's WAL hook only notes how large the WAL
/// has grown and wakes this checkpointer, which runs PASSIVE checkpoints
/// (never blocking the writer) on the other core. Should it fall far behind,
/// the writer checkpoints itself, as SQLite would. Durability is unchanged:
/// a commit is synced in the WAL before it is acknowledged either way.
final class Checkpointer: @unchecked Sendable {
    // @unchecked: `running` and `requested` are guarded by `lock`; `queue`
    // is a GRDB DatabaseQueue (Sendable).
    private let lock = NSLock()
    private var running = false
    private var requested = false
    private let queue: DatabaseQueue
    /// WAL frames after which a background checkpoint is started.
    static let threshold: Int32 = 4096
    /// WAL frames after which the writer checkpoints itself.
    static let hardLimit: Int32 = 16_384

    init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: config)
    }

    /// Installs the WAL hook on the writer's connection (replacing SQLite's
    /// automatic checkpoint, which is that same hook).
    func install(on db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, _, frames in
                let me = Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue()
                if frames >= Checkpointer.hardLimit {
                    sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if frames >= Checkpointer.threshold {
                    me.request()
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    func request() {
        let start = lock.withLock {
            requested = true
            defer { running = true }
            return !running
        }
        if start { Task.detached(priority: .utility) { await self.run() } }
    }

    private func nextRound() -> Bool {
        lock.withLock {
            if requested {
                requested = false
                return true
            }
            running = false
            return false
        }
    }

    private func run() async {
        while nextRound() {
            // A failed passive checkpoint is retried at the next request; the
            // WAL keeps every committed page until one succeeds.
            _ = try? await queue.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        }
    }

    var isRunning: Bool { lock.withLock { running } }

    /// Waits, without holding a thread, for no checkpoint to be running.
    func drain() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Waits for no checkpoint to be running (when the store closes).
    func waitUntilIdle() {
        while isRunning { usleep(1000) }
    }
}
