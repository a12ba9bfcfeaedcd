public import Foundation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore

/// What the operator API sends and takes, as JSON (snake_case keys; docs in
/// `OperatorAPI.openAPIDocument(_:)`). Views carry metadata only; an item's
/// content appears only in the answer to a read the access policy permitted.
public enum OperatorViews {
    public struct User: Codable, Sendable {
        public var name: String
        public var displayName: String
        public var party: String
        public var roles: [String]
        public var clearance: ClearanceView?
        public var categories: [String]
        public var disabled: Bool
        public var lockedUntil: Date?

        public struct ClearanceView: Codable, Sendable {
            public var level: String
            public var marking: String?
            public var expires: Date
        }

        init(_ u: UserRecord, scheme: ClassificationScheme) {
            (name, displayName, party, roles) = (u.name, u.displayName, u.party.code, u.roles.sorted().map(\.rawValue))
            clearance = u.clearance.map { ClearanceView(level: $0.level, marking: scheme.level($0.level)?.marking, expires: $0.expires) }
            (categories, disabled, lockedUntil) = (u.categories.sorted(), u.disabled, u.lockedUntil)
        }
    }

    public struct Login: Codable, Sendable {
        public var name: String
        public var password: String
    }

    public struct SessionView: Codable, Sendable {
        public var user: User
        /// Sent back in the `X-CSRF-Token` header of every state-changing request made with the session cookie.
        public var csrfToken: String
        public var expires: Date
    }

    public struct NewUser: Codable, Sendable {
        public var name: String
        public var displayName: String
        public var roles: [String]
        public var clearance: NewClearance?
        public var categories: [String]?
        public var password: String?
    }

    public struct NewClearance: Codable, Sendable {
        public var level: String
        public var expires: Date
    }

    /// A change of what a user holds; absent fields stay as they are.
    public struct UserChange: Codable, Sendable {
        public var displayName: String?
        public var roles: [String]?
        public var clearance: NewClearance?
        public var removeClearance: Bool?
        public var categories: [String]?
        public var disabled: Bool?
        public var password: String?
    }

    public struct NewToken: Codable, Sendable {
        public var name: String
        public var scopes: [String]?
        public var lifetimeDays: Int?
    }

    public struct TokenView: Codable, Sendable {
        public var id: String
        public var name: String
        public var scopes: [String]
        public var expires: Date?
        /// Shown once, at creation.
        public var token: String?
    }

    public struct Label: Codable, Sendable {
        public var policy: String?
        public var originator: String?
        public var level: String
        public var releasableTo: [String]
        public var categories: [CategoryView]?
        public var purpose: String?
        public var created: Date?
        public var review: Date?

        public struct CategoryView: Codable, Sendable {
            public var tag: String
            public var kind: String
            public var values: [String]
        }
    }

    /// The markings an item bears here (Art 4): the originator's, and this node's equivalent.
    public struct Marking: Codable, Sendable {
        public var originator: String
        public var originatorMarking: String?
        public var local: String?
        public var localLevel: String?
        public var text: String
    }

    public struct Item: Codable, Sendable {
        public var id: String
        public var digest: String
        public var sequence: Int64
        public var label: Label
        public var marking: Marking
        public var mediaType: String
        public var size: Int
        public var source: String
        public var from: String?
        public var agreement: String?
        public var at: Date
        public var status: String
    }

    public struct ItemList: Codable, Sendable {
        public var items: [Item]
        /// Pass as `after` for the next page; absent on the last.
        public var next: Int64?
    }

    public struct ItemContent: Codable, Sendable {
        public var item: Item
        public var contentBase64: String
        public var contentText: String?
    }

    public struct NewItem: Codable, Sendable {
        public var label: Label
        public var mediaType: String
        public var contentText: String?
        public var contentBase64: String?
    }

    public struct ReleaseRequest: Codable, Sendable {
        public var to: String
        public var agreement: String
    }

    public struct ReleaseView: Codable, Sendable {
        public var task: Int64
        public var to: String
        public var agreement: String
        public var linkSequence: Int64
        public var state: String
    }

    public struct ConsentRequest: Codable, Sendable {
        public var holder: String
        public var thirdParty: String
        public var purpose: String?
        public var days: Int
    }

    /// A holder asks the originator for consent to pass the item to a third party (Art 6(a)).
    public struct NewConsentRequest: Codable, Sendable {
        public var thirdParty: String
        public var purpose: String?
        public var reason: String
    }

    public struct GrantRequest: Codable, Sendable {
        public var days: Int
    }

    public struct DenyRequest: Codable, Sendable {
        public var reason: String
    }

    /// A consent request, sent by this node as holder or received as originator, and its answer.
    public struct ConsentRequestView: Codable, Sendable {
        public var id: String
        public var direction: String
        public var holder: String
        public var originator: String
        public var thirdParty: String
        public var item: String
        public var purpose: String?
        public var reason: String
        public var at: Date
        public var state: String
        /// The consent's id when granted; the originator's reason when denied.
        public var answer: String?
        public var answeredAt: Date?
        /// The statement tasks carrying the request or its answer.
        public var tasks: [Int64]?

        init(_ r: ConsentRequestRecord, tasks: [Int64]? = nil) {
            (id, direction, holder, originator, thirdParty) = (r.id, r.direction.rawValue, r.holder.code, r.originator.code, r.thirdParty.code)
            (item, purpose, reason, at, state, answer, answeredAt) = (Hex.encode(r.itemID), r.purpose, r.reason, r.at, r.state.rawValue, r.answer, r.answeredAt)
            self.tasks = tasks
        }
    }

    public struct ConsentView: Codable, Sendable {
        public var id: String
        public var holder: String
        public var thirdParty: String
        public var expires: Date
        /// The statement tasks carrying it to the holder.
        public var tasks: [Int64]
    }

    public struct ReclassifyRequest: Codable, Sendable {
        public var level: String
        public var reason: String
    }

    public struct DestroyRequest: Codable, Sendable {
        public var method: String
    }

    public struct CompromiseRequest: Codable, Sendable {
        public var stage: String
        public var description: String
        /// A further report on one of this node's incidents on the item (its id), at a later stage.
        public var incident: String?
    }

    /// One loss or compromise report (Art 17): made here, or a holder's received by this node as originator.
    public struct IncidentView: Codable, Sendable {
        public var incident: String
        public var stage: String
        public var reporter: String
        public var originator: String
        public var item: String
        public var at: Date
        public var description: String
        /// Made by another party's node and received here, as the item's originator.
        public var received: Bool
        /// The cursor for the next page (`before`).
        public var sequence: Int64
    }

    public struct StatementsView: Codable, Sendable {
        /// The statement tasks carrying it to the parties concerned.
        public var tasks: [Int64]
    }

    public struct AgreementView: Codable, Sendable {
        public var id: String
        public var title: String
        public var parties: [String]
        public var phase: String
        public var inForce: Bool
        public var since: Date?
        public var currentTermEnds: Date?
        public var nextNoticeDeadline: Date?
        public var scheduledTermination: Date?
        public var terminatedAt: Date?
    }

    /// A lifecycle act on an agreement (Art 21); each act takes its own fields (docs/agreements.md).
    public struct StatementRequest: Codable, Sendable {
        public var act: String
        public var effective: Date?
        public var notice: String?
        public var condition: String?
        public var proposal: String?
        public var summary: String?
        public var note: String?
    }

    /// One lifecycle statement of an agreement, as its timeline lists it.
    public struct StatementView: Codable, Sendable {
        public var id: String
        public var agreement: String
        public var party: String
        public var act: String
        public var at: Date
        public var effective: Date?
        public var notice: String?
        public var condition: String?
        public var proposal: String?
        public var summary: String?
        public var note: String?
        /// Set on a statement just issued: the ledger entry recording it and the tasks carrying it to the other parties.
        public var ledgerEntry: Int?
        public var tasks: [Int64]?

        init(_ s: LifecycleStatement, ledgerEntry: Int? = nil, tasks: [Int64]? = nil) {
            (id, agreement, party, act, at, note) = (s.id, s.agreement, s.party.code, s.act.name, s.at, s.note)
            effective = s.act.statedEffective
            switch s.act {
            case .noticeSuspension(let n, let c): (notice, condition) = (n, c)
            case .suspensionLifted(let n, _), .noticeWithdrawal(let n): notice = n
            case .amendment(let p, let text, _): (proposal, summary) = (p, text)
            case .mutualTermination(let p, _): proposal = p
            case .entryIntoForce, .terminationNotice: break
            }
            (self.ledgerEntry, self.tasks) = (ledgerEntry, tasks)
        }
    }

    public struct PeerView: Codable, Sendable {
        public var party: String
        public var endpoint: String
        public var queued: Int
        public var inFlight: Int
        public var delivered: Int
        public var refused: Int
        public var lagSeconds: Double
        public var lastSuccess: Date?
        public var lastError: String?
        public var alarm: String?
        public var treeSize: Int?
    }

    /// A ledger entry and its inclusion proof under the latest signed head.
    public struct LedgerEntryView: Codable, Sendable {
        public var index: Int
        public var kind: String
        public var at: Date
        public var party: String?
        /// Digests the act is about, hex.
        public var subjects: [String]
        public var detail: String
        /// The entry's canonical DER, base64: its leaf hash is SHA-256(0x00 ‖ these bytes).
        public var entry: String
        public var treeSize: Int
        public var root: String
        /// The audit path, hex hashes from the leaf up.
        public var inclusionProof: [String]
        /// The signed head, canonical DER, base64.
        public var treeHead: String
    }

    public struct ConsistencyView: Codable, Sendable {
        public var from: Int
        public var to: Int
        public var proof: [String]
        /// The latest signed head, canonical DER, base64.
        public var treeHead: String
        /// The head signed at `to`, when one was (always when `to` is the latest size).
        public var toTreeHead: String?
    }

    public struct TreeHeadView: Codable, Sendable {
        public var party: String
        public var size: Int
        public var root: String
        public var at: Date
        /// The signed head, canonical DER, base64.
        public var signed: String
    }
}

extension OperatorViews.Label {
    init(_ l: SecurityLabel) {
        (policy, originator, level, releasableTo) = (l.policy, l.originator.code, l.level, l.releasableTo.sorted().map(\.code))
        categories = l.categories.map { CategoryView(tag: $0.tag, kind: $0.kind.rawValue, values: $0.values) }
        (purpose, created, review) = (l.purpose, l.created, l.review)
    }
}
