/// The one error type of the stores: a stable code, a reason, where it was
/// raised. Equality is on the code.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
        /// Another process holds the node's data directory.
        public static let locked = Code("locked")
        /// The store refuses to run without its durability guarantees.
        public static let durability = Code("durability")
        public static let notFound = Code("notFound")
        public static let invalidInput = Code("invalidInput")
        public static let oversized = Code("oversized")
        /// An id, digest or name that is already stored.
        public static let duplicate = Code("duplicate")
        /// The request contradicts what is stored: the same link sequence
        /// number with another envelope, a task another owner holds, a peer
        /// log that would shrink, an item that is no longer held.
        public static let conflict = Code("conflict")
        /// Stored data does not agree with itself (a root, a hash, a tree head).
        public static let corrupt = Code("corrupt")
        /// The database failed (I/O, disk full…): nothing was acknowledged.
        public static let unavailable = Code("unavailable")
        /// The commit was sent but its outcome is unknown (the connection
        /// was lost): the write may or may not be stored.
        public static let indeterminate = Code("indeterminate")
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
