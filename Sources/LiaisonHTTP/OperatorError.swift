public import HTTPTypes
public import LiaisonFederation
public import LiaisonModel
public import LiaisonStore

/// The one error type of the operator surfaces (STYLE habit 4): a code the
/// edge maps to an HTTP status, a reason the operator reads, and the
/// article refused when a policy refused (RFC 9457 problem details carry it).
public struct OperatorError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
        /// No session, no token, a wrong password.
        public static let unauthenticated = Code("unauthenticated")
        /// Too many failed logins: the account is locked for a while.
        public static let lockedOut = Code("lockedOut")
        /// The user's roles do not allow the act, or the CSRF token is missing.
        public static let forbidden = Code("forbidden")
        /// A rule of an agreement or the access policy refuses it (see the refusal's article).
        public static let refused = Code("refused")
        public static let invalidInput = Code("invalidInput")
        public static let notFound = Code("notFound")
        public static let conflict = Code("conflict")
        public static let oversized = Code("oversized")
        /// The node's store failed; nothing was done.
        public static let unavailable = Code("unavailable")
    }

    public let code: Code
    public let reason: String
    public let refusal: Refusal?

    public init(_ code: Code, _ reason: String, refusal: Refusal? = nil) { (self.code, self.reason, self.refusal) = (code, reason, refusal) }

    public init(_ e: StoreError) {
        switch e.code {
        case .notFound: self.init(.notFound, e.reason)
        case .invalidInput: self.init(.invalidInput, e.reason)
        case .duplicate, .conflict: self.init(.conflict, e.reason)
        case .oversized: self.init(.oversized, e.reason)
        default: self.init(.unavailable, "the store failed: \(e.reason)")
        }
    }

    public init(_ e: FederationError) {
        switch e.code {
        case .refused where e.refusal != nil: self.init(.refused, e.reason, refusal: e.refusal)
        case .refused: self.init(.conflict, e.reason)
        case .notFound: self.init(.notFound, e.reason)
        case .malformed: self.init(.invalidInput, e.reason)
        case .oversized: self.init(.oversized, e.reason)
        case .alarm: self.init(.conflict, e.reason)
        default: self.init(.unavailable, e.reason)
        }
    }

    public var status: HTTPResponse.Status {
        switch code {
        case .unauthenticated: .unauthorized
        case .lockedOut: .tooManyRequests
        case .forbidden: .forbidden
        case .refused: .forbidden
        case .invalidInput: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .oversized: .contentTooLarge
        default: .serviceUnavailable
        }
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (a: OperatorError, b: OperatorError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
