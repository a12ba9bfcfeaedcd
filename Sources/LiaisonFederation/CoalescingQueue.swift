internal import Synchronization

/// Calls made while a group of them is at work wait and run together as
/// the next group (the first runs at once): under load, one transaction or
/// one signature for many callers instead of one each, as a group commit
/// shares one fsync. A group holds at most `limit` (a count and a size,
/// each call weighing what `weight` says; one call alone always forms a
/// group). A group that fails is run again one call at a time, so that
/// each caller gets its own answer. Each call gets back the output `run`
/// returns for it, in order.
final class CoalescingQueue<Input: Sendable, Output: Sendable>: Sendable {
    typealias Run = @Sendable ([Input]) async throws -> [Output]

    private struct Waiting {
        let input: Input
        let weight: (count: Int, size: Int)
        let continuation: CheckedContinuation<Output, any Error>
    }
    private let state = Mutex<(working: Bool, waiting: [Waiting])>((false, []))
    private let limit: (count: Int, size: Int)
    private let weight: @Sendable (Input) -> (count: Int, size: Int)

    init(limit: (count: Int, size: Int), weight: @escaping @Sendable (Input) -> (count: Int, size: Int) = { _ in (1, 0) }) {
        (self.limit, self.weight) = (limit, weight)
    }

    /// Calls waiting for the current group to finish.
    var waiting: Int { state.withLock { $0.waiting.count } }

    func submit(_ input: Input, run: @escaping Run) async throws(FederationError) -> Output {
        let w = weight(input)
        do {
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<Output, any Error>) in
                let lead = state.withLock { s -> Bool in
                    s.waiting.append(Waiting(input: input, weight: w, continuation: c))
                    defer { s.working = true }
                    return !s.working
                }
                if lead { Task { await self.lead(run) } }
            }
        } catch let e as FederationError {
            throw e
        } catch {
            throw FederationError(.unavailable, "\(error)")
        }
    }

    /// The calls waiting now, up to the limit (at least one); none ends the lead.
    private func nextGroup() -> [Waiting] {
        state.withLock { s -> [Waiting] in
            var count = 0, size = 0, taken = 0
            for w in s.waiting {
                if taken > 0, count + w.weight.count > limit.count || size + w.weight.size > limit.size { break }
                (count, size, taken) = (count + w.weight.count, size + w.weight.size, taken + 1)
            }
            let group = Array(s.waiting.prefix(taken))
            s.waiting.removeFirst(taken)
            if group.isEmpty { s.working = false }
            return group
        }
    }

    private func lead(_ run: Run) async {
        while true {
            let group = nextGroup()
            if group.isEmpty { return }
            do {
                let outputs = try await run(group.map(\.input))
                guard outputs.count == group.count else {
                    let error = FederationError(.unavailable, "a group of \(group.count) calls gave \(outputs.count) answers")
                    for w in group { w.continuation.resume(throwing: error) }
                    continue
                }
                for (w, o) in zip(group, outputs) { w.continuation.resume(returning: o) }
            } catch {
                guard group.count > 1 else {
                    group[0].continuation.resume(throwing: error)
                    continue
                }
                for w in group {
                    do {
                        let alone = try await run([w.input])
                        guard let o = alone.first, alone.count == 1 else { throw FederationError(.unavailable, "a call gave \(alone.count) answers") }
                        w.continuation.resume(returning: o)
                    } catch { w.continuation.resume(throwing: error) }
                }
            }
        }
    }
}
