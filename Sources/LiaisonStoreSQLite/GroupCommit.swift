internal import Foundation
internal import GRDB

/// Group commit: concurrent writers share one transaction, hence one
/// fsync, and each is acknowledged only once that transaction is on disk.
/// Every writer's work runs in its own savepoint, so a writer whose work
/// fails is rolled back alone and told why, while the others commit. This
/// is where SQLite's write throughput comes from with `synchronous=FULL`:
/// batching writers, never weaker syncing. (GRDB serialises writers but does
/// not merge their transactions; this small leader/follower queue does.)
///
/// One kind of write need not be durable: a claim of queued work. A claim
/// lost in a crash only returns its tasks to the queue, which every reader
/// of the queue already expects of a claim whose lease runs out. A group of
/// such writes only commits with `synchronous=NORMAL` (in WAL mode: written
/// to the log, not synced); the next durable commit syncs the log file and
/// with it every frame before it. A group with any durable write is synced.
/// The level is set before every group and put back to FULL after it.
final class GroupCommit: @unchecked Sendable {
    // @unchecked: `pending` and `leading` are guarded by `lock`.
    private let lock = NSLock()
    private var pending: [Job] = []
    private var leading = false
    private let queue: DatabasePool
    /// Writers merged into one transaction at most.
    let maximumGroup: Int

    struct Job: Sendable {
        /// Runs the writer's work inside the group's transaction.
        let run: @Sendable (Database) -> Void
        /// Whether the writer is acknowledged only once its work is synced.
        let durable: Bool
        /// Called after the commit (or its failure) to acknowledge the writer.
        let finish: @Sendable ((any Error)?) -> Void
    }

    init(queue: DatabasePool, maximumGroup: Int = 256) {
        self.queue = queue
        self.maximumGroup = maximumGroup
    }

    /// Runs `body` in a savepoint of the next group transaction; returns
    /// once that transaction is committed (synced, unless `durable` is
    /// false and no other writer of the group needs it) or has failed.
    func write<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Outcome<T>()
            let job = Job(
                run: { db in
                    do {
                        try db.inSavepoint {
                            outcome.result = .success(try body(db))
                            return .commit
                        }
                    } catch {
                        outcome.result = .failure(error)
                    }
                },
                durable: durable,
                finish: { commitError in
                    if let commitError {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome.result ?? .failure(CancellationError()))
                    }
                })
            let lead = lock.withLock {
                pending.append(job)
                defer { leading = true }
                return !leading
            }
            if lead { Task { await self.lead() } }
        }
    }

    /// The writers waiting now (at most `maximumGroup`); none ends the lead.
    private func nextGroup() -> [Job] {
        lock.withLock {
            let group = Array(pending.prefix(maximumGroup))
            pending.removeFirst(group.count)
            if group.isEmpty { leading = false }
            return group
        }
    }

    /// The leader commits groups until no writer is waiting.
    private func lead() async {
        while true {
            let group = nextGroup()
            if group.isEmpty { return }
            let durable = group.contains(where: \.durable)
            do {
                try await queue.writeWithoutTransaction { db in
                    try db.execute(sql: durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                    // Back to FULL however the group ends; a failure to say so
                    // cannot undo the commit, and the next group sets its level anyway.
                    defer { if !durable { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                    try db.inTransaction(.immediate) {
                        for job in group { job.run(db) }
                        return .commit
                    }
                }
                for job in group { job.finish(nil) }
            } catch {
                for job in group { job.finish(error) }
            }
        }
    }
}

/// One writer's result, set inside the transaction and read after it.
private final class Outcome<T>: @unchecked Sendable {
    // @unchecked: written on the database queue before the commit, read by
    // `finish` after it; the commit orders the two.
    var result: Result<T, any Error>?
}
