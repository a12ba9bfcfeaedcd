/// The article of an agreement (or of TISA, or of the design's invariants) a
/// decision enforces, so that the UI and API can cite it.
public struct Article: Hashable, Sendable, CustomStringConvertible, Codable {
    public let citation: String
    public init(_ citation: String) { self.citation = citation }
    public var description: String { citation }

    /// Art 1: information is exchanged between the parties to the agreement.
    public static let parties = Article("Art 1")
    /// Art 4: equivalence of levels and dual marking.
    public static let equivalence = Article("Art 4")
    /// Art 6(a): no release to a third party without the originator's prior written approval.
    public static let thirdParty = Article("Art 6(a)")
    /// Art 6(c): no use for another purpose than the one provided for.
    public static let purpose = Article("Art 6(c)")
    /// Art 6(g): only the originator reclassifies.
    public static let reclassification = Article("Art 6(g)")
    /// Art 7: access needs a clearance at the equivalent level and a need to know.
    public static let access = Article("Art 7")
    /// Art 21: entry into force, term, renewal, notice, termination.
    public static let lifecycle = Article("Art 21")
    /// TISA ¶4: the hub relays between the other participants.
    public static let hub = Article("TISA ¶4")
}

/// Why a policy refused: a stable code, the article it enforces and a
/// sentence a security officer can act on.
public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible, Codable {
    public struct Code: Hashable, Sendable, CustomStringConvertible, Codable {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
        public init(from decoder: any Decoder) throws { name = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(name)
        }
    }

    public var code: Code
    public var article: Article
    public var reason: String

    public init(_ code: Code, _ article: Article, _ reason: String) {
        self.code = code
        self.article = article
        self.reason = reason
    }

    public var description: String { "\(article): \(reason)" }
}

extension Refusal.Code {
    // Release (invariant 1)
    public static let sameParty = Self("sameParty")
    public static let notAParty = Self("notAParty")
    public static let unknownAgreement = Self("unknownAgreement")
    public static let originatorNotParty = Self("originatorNotParty")
    public static let notInForce = Self("notInForce")
    public static let underlyingNotInForce = Self("underlyingNotInForce")
    public static let noEquivalence = Self("noEquivalence")
    public static let unknownLevel = Self("unknownLevel")
    public static let notReleasable = Self("notReleasable")
    public static let purposeOutOfScope = Self("purposeOutOfScope")
    public static let consentRequired = Self("consentRequired")
    public static let consentInvalid = Self("consentInvalid")
    public static let onwardReleaseProhibited = Self("onwardReleaseProhibited")
    public static let notOnHubRoute = Self("notOnHubRoute")
    // Access (invariant 3)
    public static let wrongNode = Self("wrongNode")
    public static let accountDisabled = Self("accountDisabled")
    public static let clearanceExpired = Self("clearanceExpired")
    public static let clearanceTooLow = Self("clearanceTooLow")
    public static let missingRestrictiveCategory = Self("missingRestrictiveCategory")
    public static let missingPermissiveCategory = Self("missingPermissiveCategory")
    // Reclassification
    public static let notOriginator = Self("notOriginator")
    public static let unchangedLevel = Self("unchangedLevel")
    // Lifecycle statements
    public static let wrongAgreement = Self("wrongAgreement")
    public static let conflictingStatement = Self("conflictingStatement")
    public static let afterTermination = Self("afterTermination")
    public static let invalidInState = Self("invalidInState")
    public static let wrongNotice = Self("wrongNotice")
    public static let retroactive = Self("retroactive")
    public static let wrongEffectiveInstant = Self("wrongEffectiveInstant")
    public static let duplicateConsent = Self("duplicateConsent")
    public static let mismatchedProposal = Self("mismatchedProposal")
}

/// A policy decision (STYLE habit 2): permitted, or refused with a reason
/// naming the article. Decisions compose with ``then(_:)``: the first refusal wins.
public enum Decision: Hashable, Sendable, CustomStringConvertible {
    case permitted
    case refused(Refusal)

    public var isPermitted: Bool { self == .permitted }
    public var refusal: Refusal? {
        if case .refused(let r) = self { return r }
        return nil
    }

    /// This decision if it refuses, otherwise `next`.
    public func then(_ next: () -> Decision) -> Decision {
        isPermitted ? next() : self
    }

    /// The first refusal among `checks`, evaluated in order, or `.permitted`.
    public static func all(_ checks: [() -> Decision]) -> Decision {
        for check in checks {
            let d = check()
            if !d.isPermitted { return d }
        }
        return .permitted
    }

    public static func refuse(_ code: Refusal.Code, _ article: Article, _ reason: String) -> Decision {
        .refused(Refusal(code, article, reason))
    }

    public var description: String {
        switch self {
        case .permitted: "permitted"
        case .refused(let r): "refused — \(r)"
        }
    }
}
