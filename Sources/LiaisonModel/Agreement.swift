public import Foundation

/// A GSOMIA (or an arrangement riding on GSOMIAs, such as TISA) as a value:
/// the document the parties sign. Its lifecycle comes from statements
/// (``LifecycleStatement``) evaluated by ``AgreementLifecycle``.
public struct Agreement: Hashable, Sendable {
    public typealias ID = String

    public var id: ID
    public var title: String
    /// Whether the instrument binds under international law (TISA does not).
    public var binding: Bool
    public var parties: [AgreementParty]
    /// Art 4: the equivalence table, most sensitive row first.
    public var equivalence: EquivalenceTable
    /// Art 21: term, renewal and notice period.
    public var term: Term
    /// Art 6(a): what a holder that is not the originator needs to release.
    public var thirdPartyRule: ThirdPartyRule
    /// Art 6(c) and TISA's scope: the purposes information may be used for;
    /// empty means any defence-related purpose (Art 2).
    public var purposes: [Purpose]
    /// A hub relaying between parties (TISA ¶4), if any.
    public var hub: HubRouting?
    /// Agreements this one rides on (TISA rides on the bilateral GSOMIAs):
    /// each hop must also be permitted by the one binding its two parties.
    public var basedOn: [ID]
    public var suite: CryptoSuite

    public init(
        id: ID, title: String, binding: Bool = true, parties: [AgreementParty], equivalence: EquivalenceTable,
        term: Term, thirdPartyRule: ThirdPartyRule = .originatorConsent, purposes: [Purpose] = [],
        hub: HubRouting? = nil, basedOn: [ID] = [], suite: CryptoSuite = .hybridPQ
    ) {
        self.id = id
        self.title = title
        self.binding = binding
        self.parties = parties
        self.equivalence = equivalence
        self.term = term
        self.thirdPartyRule = thirdPartyRule
        self.purposes = purposes
        self.hub = hub
        self.basedOn = basedOn
        self.suite = suite
    }

    public var partyCodes: [Party] { parties.map(\.party) }
    public func isParty(_ p: Party) -> Bool { parties.contains { $0.party == p } }
    public func scheme(of p: Party) -> ClassificationScheme? { parties.first { $0.party == p }?.scheme }
    public func purpose(_ code: String) -> Purpose? { purposes.first { $0.code == code } }
}

/// A party as the agreement names it: its scheme and its node's trust anchors.
public struct AgreementParty: Hashable, Sendable {
    public var party: Party
    /// The competent authority (Art 2), e.g. the Ministry of National Defense.
    public var authority: String
    public var scheme: ClassificationScheme
    /// Pinned trust anchors of the party's node (invariant 7).
    public var trustAnchors: [TrustAnchor]

    public init(party: Party, authority: String, scheme: ClassificationScheme, trustAnchors: [TrustAnchor] = []) {
        self.party = party
        self.authority = authority
        self.scheme = scheme
        self.trustAnchors = trustAnchors
    }
}

/// A pinned key or certificate fingerprint of a party's node.
public struct TrustAnchor: Hashable, Sendable, Codable {
    /// What the anchor pins: `root-ca`, `signing-key`, `encryption-key`.
    public var kind: String
    /// `sha256:` followed by 64 lower-case hex digits.
    public var fingerprint: String

    public init(kind: String, fingerprint: String) {
        self.kind = kind
        self.fingerprint = fingerprint
    }

    public static let kinds = ["root-ca", "node-certificate", "signing-key", "encryption-key"]

    public static func isWellFormed(fingerprint f: String) -> Bool {
        guard f.hasPrefix("sha256:") else { return false }
        let hex = f.dropFirst(7)
        return hex.count == 64 && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// Art 21: how long the agreement runs and how it ends.
public struct Term: Hashable, Sendable {
    public enum Renewal: String, Hashable, Sendable, CaseIterable {
        /// Runs `years`, then renews for `years` at each anniversary unless a
        /// party gave notice at least `noticePeriodDays` before it (Art 21).
        case automatic
        /// No term: runs until a notice takes effect `noticePeriodDays` after it is given.
        case indefinite
    }

    public var renewal: Renewal
    /// Length of a term in years (ignored when `renewal` is `indefinite`).
    public var years: Int
    public var noticePeriodDays: Int
    /// The zone whose calendar dates the treaty counts in (`Asia/Seoul`).
    public var timeZone: TimeZone

    public init(renewal: Renewal, years: Int, noticePeriodDays: Int, timeZone: TimeZone) {
        self.renewal = renewal
        self.years = years
        self.noticePeriodDays = noticePeriodDays
        self.timeZone = timeZone
    }
}

/// Art 6(a): release by a holder that is not the originator.
public enum ThirdPartyRule: String, Hashable, Sendable, CaseIterable {
    /// Only with the originator's prior written approval (a ``Consent``).
    case originatorConsent = "originator-consent"
    /// Never: only the originator releases.
    case prohibited
}

/// A purpose the information may be used for (Art 6(c)), e.g. TISA's
/// "nuclear and missile threats posed by North Korea".
public struct Purpose: Hashable, Sendable {
    public var code: String
    public var description: String
    public init(code: String, description: String) {
        self.code = code
        self.description = description
    }
}

/// A hub relaying between parties (TISA ¶4): items go from `route.from` to
/// the hub and on to `route.to`, onward only with the originator's consent.
public struct HubRouting: Hashable, Sendable {
    public struct Route: Hashable, Sendable {
        public var from: Party
        public var to: Party
        public init(from: Party, to: Party) {
            self.from = from
            self.to = to
        }
    }
    public var hub: Party
    public var routes: [Route]
    public init(hub: Party, routes: [Route]) {
        self.hub = hub
        self.routes = routes
    }
}

/// The cryptographic suite an agreement chooses (DESIGN §4).
public enum CryptoSuite: String, Hashable, Sendable, CaseIterable {
    /// Ed25519 + ML-DSA-65 signatures, HPKE X-Wing + AES-256-GCM.
    case hybridPQ = "hybrid-pq"
    /// ECDSA P-384 signatures, HPKE P-384 + AES-256-GCM.
    case classic
}
