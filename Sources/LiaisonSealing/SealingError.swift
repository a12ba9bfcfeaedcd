public import LiaisonModel

/// The one error type of LiaisonSealing (STYLE habit 4): a stable code, a
/// reason a security officer can act on, and where it was raised. Equality
/// is on the code. Every refusal of a sealed object is one of these.
public struct SealingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        // Encoding
        public static let malformed = Code("malformed")
        public static let nonCanonical = Code("nonCanonical")
        public static let unknownVersion = Code("unknownVersion")
        public static let unknownSuite = Code("unknownSuite")
        public static let oversized = Code("oversized")
        // Keys and trust (invariant 7)
        public static let unpinnedKey = Code("unpinnedKey")
        public static let keyNotValidAt = Code("keyNotValidAt")
        public static let wrongSigner = Code("wrongSigner")
        public static let suiteMismatch = Code("suiteMismatch")
        public static let signatureMissing = Code("signatureMissing")
        public static let signatureInvalid = Code("signatureInvalid")
        public static let invalidKey = Code("invalidKey")
        public static let insecureKeyFile = Code("insecureKeyFile")
        public static let invalidRotation = Code("invalidRotation")
        // Items, seals, envelopes
        public static let wrongRecipient = Code("wrongRecipient")
        public static let wrongAgreement = Code("wrongAgreement")
        public static let originSealInvalid = Code("originSealInvalid")
        public static let batchPathInvalid = Code("batchPathInvalid")
        public static let decryptionFailed = Code("decryptionFailed")
        public static let payloadDigestMismatch = Code("payloadDigestMismatch")
        public static let consentInvalid = Code("consentInvalid")
        public static let policyRefused = Code("policyRefused")
        public static let invalidLabel = Code("invalidLabel")
    }

    public let code: Code
    public let reason: String
    /// The policy refusal behind a `policyRefused` or `consentInvalid` error.
    public let refusal: Refusal?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, refusal: Refusal? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.refusal = refusal
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (a: SealingError, b: SealingError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
