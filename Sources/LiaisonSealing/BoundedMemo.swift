internal import Synchronization

/// Values computed before, by a key that determines them (the exact bytes
/// they were decoded or checked from), at most `limit` of them: past it
/// the memo starts afresh. What it holds is bounded by `limit` times the
/// largest key and value a caller lets in.
public final class BoundedMemo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let known = Mutex<[Key: Value]>([:])
    private let limit: Int

    public init(limit: Int) { self.limit = limit }

    public subscript(key: Key) -> Value? { known.withLock { $0[key] } }

    public func keep(_ value: Value, for key: Key) {
        known.withLock {
            if $0.count >= limit { $0.removeAll(keepingCapacity: true) }
            $0[key] = value
        }
    }
}
