#if os(Linux)
    internal import CMalloc
#endif

/// The bytes the C allocator holds in use for the process (all arenas), for
/// tests that show a repeated operation leaves nothing behind.
public enum HeapInUse {
    public static func bytes() -> Int {
        #if os(Linux)
            return Int(liaison_heap_in_use())
        #else
            return 0
        #endif
    }

    /// The least growth of the heap over `rounds` runs of `body`: an
    /// allocation kept by `body` shows in every round, while other threads'
    /// passing allocations do not.
    public static func leastGrowth(rounds: Int = 5, _ body: () -> Void) -> Int {
        var least = Int.max
        for _ in 0..<rounds {
            let before = bytes()
            body()
            least = min(least, bytes() - before)
        }
        return least
    }
}
