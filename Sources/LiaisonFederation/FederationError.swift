public import LiaisonModel
internal import LiaisonStore

/// The one error type of the federation services (STYLE habit 4): a code
/// the HTTP edge maps to a status, a reason the peer and the operator read,
/// and the article refused when a policy refused.
public struct FederationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
        /// The request is not a well-formed object of the protocol.
        public static let malformed = Code("malformed")
        /// The object is signed or addressed by another party than the authenticated peer.
        public static let wrongPeer = Code("wrongPeer")
        /// An agreement's rule refuses it (see the refusal's article).
        public static let refused = Code("refused")
        /// Exchange with this peer is stopped until a security officer acknowledges an alarm.
        public static let alarm = Code("alarm")
        /// Too large or too many.
        public static let oversized = Code("oversized")
        /// The peer could not be reached, or answered with an error.
        public static let transport = Code("transport")
        /// The peer's answer does not verify.
        public static let unverifiable = Code("unverifiable")
        /// This node's store failed; nothing was acknowledged.
        public static let unavailable = Code("unavailable")
        public static let notFound = Code("notFound")
    }

    public let code: Code
    public let reason: String
    public let refusal: Refusal?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, refusal: Refusal? = nil, file: String = #fileID, line: Int = #line) {
        (self.code, self.reason, self.refusal, self.file, self.line) = (code, reason, refusal, file, line)
    }

    /// A store's error as this module says it (a refusal, or the store failing).
    init(_ e: StoreError, file: String = #fileID, line: Int = #line) {
        switch e.code {
        case .notFound: self.init(.notFound, e.reason, file: file, line: line)
        case .invalidInput, .duplicate, .conflict: self.init(.refused, e.reason, file: file, line: line)
        case .oversized: self.init(.oversized, e.reason, file: file, line: line)
        default: self.init(.unavailable, "the store failed: \(e.reason)", file: file, line: line)
        }
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (a: FederationError, b: FederationError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
