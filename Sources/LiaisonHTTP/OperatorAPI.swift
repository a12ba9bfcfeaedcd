internal import Foundation
public import Hummingbird
internal import HTTPTypes
internal import HummingbirdTLS
public import LiaisonFederation
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore
public import Logging
internal import NIOCore
public import NIOSSL

/// A request on the operator surfaces (JSON API, console, TAXII).
public struct OperatorContext: ChannelRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
    /// An item of 8 MiB, base64-encoded in JSON, fits.
    public var maxUploadSize: Int { 12 << 20 }
}

/// Who is asking, and how they proved it.
public struct Caller: Sendable {
    public let user: UserRecord
    /// The session's secret when the caller came with the session cookie
    /// (state-changing requests then need the CSRF token).
    public let session: String?
    public var reader: Reader { Accounts.reader(user) }
}

/// The operator JSON API (DESIGN §5): items, releases, agreements, peers,
/// the ledger, users and tokens — every path through the same policies as
/// the federation, every read and refusal in the ledger. Described by
/// `openAPIDocument`, served at `/openapi.json`; errors are RFC 9457
/// problem details naming the article refused.
public enum OperatorAPI {
    /// The session cookie's name: one per node, so that nodes on one host (the demo) keep their sessions apart.
    public static func sessionCookie(_ party: Party) -> String { "liaison_session_\(party.code.lowercased())" }
    public static let csrfHeader = "X-CSRF-Token"

    public static func router(federation: Federation, accounts: Accounts, ledgerTrust: TrustStore, metrics: NodeMetrics) -> Router<OperatorContext> {
        let router = Router(context: OperatorContext.self)
        router.add(middleware: NodeMetrics.Middleware(metrics: metrics))
        router.add(middleware: UploadGuard())
        router.add(middleware: OperatorProblemMiddleware())
        let api = Handlers(federation: federation, accounts: accounts)
        Console(api: api, ledgerTrust: ledgerTrust).register(router)
        TAXIIGateway(api: api).register(router)
        // Prometheus scrapes with an API token (read scope) of an auditor, security officer or administrator.
        router.get("metrics") { request, _ in
            // Queue sizes, lags and refusal reasons are for those who watch the node, not for every user.
            let caller = try await api.caller(request, changing: false)
            try api.require(caller, [.auditor, .securityOfficer, .administrator], to: "read the node's metrics")
            let text = try await metrics.scrape(federation)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let book = federation.book
        let document = openAPIDocument(
            federation.party, levels: accounts.scheme.levels.sorted { $0.rank > $1.rank }.map(\.code),
            parties: Set(book.lifecycles.values.flatMap(\.agreement.partyCodes)).subtracting([federation.party]).map(\.code).sorted(),
            agreements: book.lifecycles.values.filter { $0.agreement.isParty(federation.party) }.map(\.agreement.id).sorted())
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        let v1 = router.group("api/v1")
        v1.post("session") { request, context in try await api.login(request, context) }
        v1.delete("session") { request, context in try await api.logout(request, context) }
        v1.get("me") { request, context in try await api.me(request, context) }
        v1.post("tokens") { request, context in try await api.issueToken(request, context) }
        v1.get("users") { request, context in try await api.users(request, context) }
        v1.post("users") { request, context in try await api.addUser(request, context) }
        v1.patch("users/:name") { request, context in try await api.changeUser(request, context) }
        v1.get("items") { request, context in try await api.items(request, context) }
        v1.post("items") { request, context in try await api.createItem(request, context) }
        v1.get("items/:id") { request, context in try await api.readItem(request, context) }
        v1.post("items/:id/releases") { request, context in try await api.release(request, context) }
        v1.post("items/:id/consents") { request, context in try await api.consent(request, context) }
        v1.post("items/:id/compromise") { request, context in try await api.compromise(request, context) }
        v1.get("incidents") { request, context in try await api.incidents(request, context) }
        v1.post("items/:id/consent-requests") { request, context in try await api.requestConsent(request, context) }
        v1.get("consent-requests") { request, context in try await api.consentRequests(request, context) }
        v1.post("consent-requests/:request/grant") { request, context in try await api.grant(request, context) }
        v1.post("consent-requests/:request/deny") { request, context in try await api.deny(request, context) }
        v1.post("items/:id/reclassify") { request, context in try await api.reclassify(request, context) }
        v1.post("items/:id/destroy") { request, context in try await api.destroy(request, context) }
        v1.post("peers/:party/acknowledge") { request, context in try await api.acknowledge(request, context) }
        v1.get("agreements") { request, context in try await api.agreements(request, context) }
        v1.get("agreements/:agreement/statements") { request, context in try await api.statements(request, context) }
        v1.post("agreements/:agreement/statements") { request, context in try await api.issueStatement(request, context) }
        v1.get("peers") { request, context in try await api.peers(request, context) }
        v1.get("ledger/head") { request, context in try await api.treeHead(request, context) }
        v1.get("ledger/entries/:index") { request, context in try await api.ledgerEntry(request, context) }
        v1.get("ledger/consistency") { request, context in try await api.consistency(request, context) }
        return router
    }

    /// Serves the operator surfaces on `host:port` over HTTPS with the
    /// node's certificate (no client certificate: operators log in). A
    /// connection whose handshake has not finished `handshakeDeadline`
    /// seconds after it opened is closed.
    public static func application(
        federation: Federation, accounts: Accounts, ledgerTrust: TrustStore, metrics: NodeMetrics, tls: TLSConfiguration, host: String, port: Int,
        logger: Logger, handshakeDeadline: Double = 10, onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        Application(
            router: router(federation: federation, accounts: accounts, ledgerTrust: ledgerTrust, metrics: metrics),
            server: try .tls(.http1(configuration: .deadlines(handshake: handshakeDeadline, idle: .seconds(60), logger: logger)), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "liaison-\(federation.party)"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// The routes' work, with the services they call.
struct Handlers: Sendable {
    let federation: Federation
    let accounts: Accounts

    var party: Party { federation.party }

    // MARK: Authentication

    /// The caller, from a bearer API token or the session cookie; with
    /// `changing`, a cookie must come with its CSRF token.
    func caller(_ request: Request, changing: Bool) async throws(OperatorError) -> Caller {
        if let auth = request.headers[.authorization] {
            let secret: String
            var named: String?
            let scheme = auth.prefix { $0 != " " }.lowercased()
            if scheme == "bearer" {
                secret = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            } else if scheme == "basic",
                let decoded = Data(base64Encoded: String(auth.dropFirst(6)).trimmingCharacters(in: .whitespaces)).flatMap({ String(data: $0, encoding: .utf8) }),
                let colon = decoded.firstIndex(of: ":")
            {
                // Basic: the user's name and one of their API tokens (TAXII clients); never the password.
                (named, secret) = (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
            } else {
                throw OperatorError(.unauthenticated, "the Authorization header takes a Bearer API token, or Basic with a user name and API token")
            }
            let (user, token) = try await accounts.token(secret)
            if let named, named != user.name { throw OperatorError(.unauthenticated, "the API token is not \(named.prefix(64))'s") }
            let needed = changing ? "write" : "read"
            guard token.scopes.contains(needed) else {
                throw OperatorError(.forbidden, "the API token \(token.id) has no \(needed) scope (it has \(token.scopes.sorted().joined(separator: ", ")))")
            }
            // Every credential presented must hold: a token does not cover for a bad session cookie.
            if let secret = request.cookies[OperatorAPI.sessionCookie(party)]?.value {
                let other = try await accounts.session(secret)
                guard other.name == user.name else {
                    throw OperatorError(.unauthenticated, "the session cookie and the API token are different users'; present one credential")
                }
            }
            return Caller(user: user, session: nil)
        }
        guard let secret = request.cookies[OperatorAPI.sessionCookie(party)]?.value else {
            throw OperatorError(.unauthenticated, "log in first (POST /api/v1/session) or send an API token")
        }
        let user = try await accounts.session(secret)
        if changing, !Accounts.csrfMatches(request.headers[HTTPField.Name(OperatorAPI.csrfHeader)!], session: secret) {
            throw OperatorError(.forbidden, "the \(OperatorAPI.csrfHeader) header is missing or does not match this session")
        }
        return Caller(user: user, session: secret)
    }

    func require(_ caller: Caller, _ roles: Set<Role>, to act: String) throws(OperatorError) {
        guard caller.user.roles.isDisjoint(with: roles) else { return }
        throw OperatorError(
            .forbidden,
            "to \(act) takes the role \(roles.sorted().map(\.rawValue).joined(separator: " or ")); \(caller.user.name) holds \(caller.user.roles.sorted().map(\.rawValue).joined(separator: ", "))"
        )
    }

    func login(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let body = try await decode(OperatorViews.Login.self, request, context, limit: 16 << 10)
        let session = try await accounts.login(body.name, password: body.password)
        var response = try json(
            OperatorViews.SessionView(
                user: OperatorViews.User(session.user, scheme: accounts.scheme), csrfToken: session.csrf, expires: session.expires), status: .created)
        response.setCookie(
            Cookie(
                name: OperatorAPI.sessionCookie(party), value: session.secret, maxAge: Int(accounts.policy.sessionLifetime), path: "/", secure: true,
                httpOnly: true, sameSite: .strict))
        return response
    }

    func logout(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        if let secret = caller.session { await accounts.logout(secret) }
        var response = Response(status: .noContent)
        response.setCookie(Cookie(name: OperatorAPI.sessionCookie(party), value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
        return response
    }

    func me(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        return try json(OperatorViews.User(caller.user, scheme: accounts.scheme))
    }

    func issueToken(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        // A token cannot make another (a short-lived token must not become lasting access).
        guard caller.session != nil else { throw OperatorError(.forbidden, "API tokens are issued to a logged-in session, not to another token") }
        let body = try await decode(OperatorViews.NewToken.self, request, context, limit: 16 << 10)
        guard (1...200).contains(body.name.count) else { throw OperatorError(.invalidInput, "a token's name has 1 to 200 characters") }
        if let d = body.lifetimeDays, !(1...366).contains(d) { throw OperatorError(.invalidInput, "lifetime_days is 1 to 366, not \(d)") }
        let issued = try await accounts.issueToken(
            to: caller.user.name, named: body.name, scopes: Set(body.scopes ?? ["read", "write"]), lifetime: TimeInterval(body.lifetimeDays ?? 90) * 86_400,
            by: caller.user.name)
        return try json(
            OperatorViews.TokenView(
                id: issued.record.id, name: issued.record.name, scopes: issued.record.scopes.sorted(), expires: issued.record.expiresAt, token: issued.secret),
            status: .created)
    }

    // MARK: Users (administrators)

    func users(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        try require(caller, [.administrator, .securityOfficer, .auditor], to: "list users")
        return try json(try await accounts.users().map { OperatorViews.User($0, scheme: accounts.scheme) })
    }


    func addUser(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.administrator], to: "add users")
        let body = try await decode(OperatorViews.NewUser.self, request, context, limit: 64 << 10)
        let profile = Accounts.Profile(
            displayName: body.displayName, roles: try Accounts.roles(body.roles), clearance: body.clearance.map { ($0.level, $0.expires) },
            categories: Set(body.categories ?? []))
        let user = try await accounts.add(body.name, profile, password: body.password, by: caller.user.name)
        return try json(OperatorViews.User(user, scheme: accounts.scheme), status: .created)
    }

    func changeUser(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.administrator], to: "change users")
        let name = try context.parameters.require("name")
        let body = try await decode(OperatorViews.UserChange.self, request, context, limit: 64 << 10)
        let newRoles = try body.roles.map { names throws(OperatorError) in try Accounts.roles(names) }
        if body.clearance != nil, body.removeClearance == true {
            throw OperatorError(.invalidInput, "clearance and remove_clearance together: choose one")
        }
        if body.displayName != nil || newRoles != nil || body.clearance != nil || body.removeClearance == true || body.categories != nil {
            try await accounts.update(name, by: caller.user.name) { p in
                if let v = body.displayName { p.displayName = v }
                if let v = newRoles { p.roles = v }
                if let c = body.clearance { p.clearance = (c.level, c.expires) }
                if body.removeClearance == true { p.clearance = nil }
                if let v = body.categories { p.categories = Set(v) }
            }
        }
        if let password = body.password { try await accounts.setPassword(name, password, by: caller.user.name) }
        if let disabled = body.disabled {
            guard !(disabled && name == caller.user.name) else { throw OperatorError(.conflict, "an administrator does not disable their own account") }
            try await accounts.setDisabled(name, disabled, by: caller.user.name)
        }
        return try json(OperatorViews.User(try await accounts.user(name), scheme: accounts.scheme))
    }

    // MARK: Items

    /// The scheme and agreement an item is judged under here.
    func view(_ h: LiaisonStore.Holding) -> OperatorViews.Item {
        var from: String?, agreementID: String?
        if case .received(let p, let a) = h.source { (from, agreementID) = (p.code, a) }
        let book = federation.book
        let marking: OperatorViews.Marking
        if h.label.originator == party {
            let l = accounts.scheme.level(h.label.level)
            marking = OperatorViews.Marking(
                originator: party.code, originatorMarking: l?.marking, local: l?.marking, localLevel: l?.code,
                text: l.map { "\(party) \($0.marking) (\($0.romanization))" } ?? "\(party) \(h.label.level)")
        } else if let id = agreementID, let agreement = book[id]?.agreement,
            case .success(let dual) = DualMarking.make(agreement: agreement, originator: h.label.originator, level: h.label.level, receiver: party)
        {
            marking = OperatorViews.Marking(
                originator: h.label.originator.code, originatorMarking: dual.originatorLevel.marking, local: dual.receiverLevel.marking,
                localLevel: dual.receiverLevel.code, text: dual.description)
        } else {
            marking = OperatorViews.Marking(
                originator: h.label.originator.code, originatorMarking: nil, local: nil, localLevel: nil,
                text: "\(h.label.originator) \(h.label.level) (no equivalent known here)")
        }
        return OperatorViews.Item(
            id: Hex.encode(h.itemID), digest: Hex.encode(h.digest), sequence: h.sequence, label: OperatorViews.Label(h.label), marking: marking,
            mediaType: h.mediaType, size: h.payloadSize, source: from == nil ? "originated" : "received", from: from, agreement: agreementID, at: h.at,
            status: h.status.rawValue)
    }

    func mayRead(_ reader: Reader, _ h: LiaisonStore.Holding, at now: Date) -> Bool {
        var agreement: Agreement?
        if case .received(_, let id) = h.source { agreement = federation.book[id]?.agreement }
        return AccessPolicy.evaluate(
            AccessRequest(
                reader: reader, item: ItemFacts(digest: Hex.encode(h.digest), label: h.label), node: party, localScheme: accounts.scheme,
                agreement: agreement, instant: now)
        ).isPermitted
    }

    /// The items the caller may read, in the order they came, a page at a time.
    func items(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        let limit = try query(request, "limit", default: 50, 1...500)
        var cursor: Int64? = try request.uri.queryParameters.get("after").map { text throws(OperatorError) in
            guard let v = Int64(text), v >= 0 else { throw OperatorError(.invalidInput, "after takes a sequence number, not \(text.prefix(40))") }
            return v
        }
        let reader = caller.reader, now = Date()
        var out: [OperatorViews.Item] = []
        var more = true
        var scanned = 0
        // Pages of holdings until the caller's page is full (what they may not read is skipped, not shown);
        // one request looks at 5000 holdings at most, and says where to go on.
        scan: while out.count < limit && scanned < 5000 {
            let page = try await store { () throws(StoreError) in try await federation.store.holdings(after: cursor, limit: 500) }
            if page.isEmpty {
                more = false
                break
            }
            for h in page {
                cursor = h.sequence
                scanned += 1
                if mayRead(reader, h, at: now) { out.append(view(h)) }
                if out.count == limit { break scan }
            }
        }
        return try json(OperatorViews.ItemList(items: out, next: more ? cursor : nil))
    }

    func itemID(_ context: OperatorContext) throws(OperatorError) -> [UInt8] {
        let text = context.parameters.get("id") ?? ""
        guard let id = Hex.decode(text), id.count == 16 else {
            throw OperatorError(.invalidInput, "an item id is 32 hexadecimal digits, not \(text.prefix(80))")
        }
        return id
    }

    /// A read (invariant 3): the access policy decides, the ledger records the read or the refusal.
    func readItem(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        let id = try itemID(context)
        let (decision, item) = try await federated { () throws(FederationError) in try await federation.read(id, by: caller.reader) }
        if case .refused(let r) = decision { throw OperatorError(.refused, "\(r.article): \(Self.readerFacing(r))", refusal: r) }
        guard let item, let payload = item.payload else { throw OperatorError(.notFound, "the item has no content") }
        let text = item.holding.mediaType.hasPrefix("text/") ? String(validating: payload, as: UTF8.self) : nil
        return try json(OperatorViews.ItemContent(item: view(item.holding), contentBase64: Data(payload).base64EncodedString(), contentText: text))
    }

    /// Originates an item at this node: its label checked, sealed, stored.
    /// The author must be able to read what they write (invariant 3).
    func createItem(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.analyst, .releasingOfficer, .securityOfficer], to: "create items")
        let body = try await decode(OperatorViews.NewItem.self, request, context, limit: context.maxUploadSize)
        let payload: [UInt8]
        switch (body.contentText, body.contentBase64) {
        case (let t?, nil): payload = Array(t.utf8)
        case (nil, let b?):
            guard let d = Data(base64Encoded: b) else { throw OperatorError(.invalidInput, "content_base64 is not base64") }
            payload = Array(d)
        default: throw OperatorError(.invalidInput, "give the content as content_text or as content_base64 (one of them)")
        }
        guard payload.count <= 8 << 20 else { throw OperatorError(.oversized, "an item's content is at most 8 MiB; this one has \(payload.count) bytes") }
        guard (1...127).contains(body.mediaType.count), body.mediaType.contains("/"), !body.mediaType.contains(where: { $0.isWhitespace }) else {
            throw OperatorError(.invalidInput, "media_type must be a media type such as text/plain")
        }
        let label = try label(body.label)
        let now = Date()
        let facts = ItemFacts(digest: "", label: label)
        if case .refused(let r) = AccessPolicy.evaluate(
            AccessRequest(reader: caller.reader, item: facts, node: party, localScheme: accounts.scheme, agreement: nil, instant: now))
        {
            throw OperatorError(.refused, "\(r.article): \(r.reason) — an author must be able to read the item", refusal: r)
        }
        let sealed = try await federated { () throws(FederationError) in try await federation.originate([(label, body.mediaType, payload)]) }
        let holding = try await store { () throws(StoreError) in try await federation.store.holdings([sealed[0].manifest.itemID]) }[0]
        return try json(view(holding), status: .created)
    }

    func label(_ v: OperatorViews.Label) throws(OperatorError) -> SecurityLabel {
        if let o = v.originator, o != party.code {
            throw OperatorError(.invalidInput, "this node originates \(party)'s items only; the label names \(o.prefix(8))")
        }
        var parties = Set<Party>()
        for code in v.releasableTo {
            guard let p = Party(code) else { throw OperatorError(.invalidInput, "\(code.prefix(8)) is not a party code (three letters, as JPN)") }
            parties.insert(p)
        }
        var categories: [LiaisonModel.Category] = []
        for c in v.categories ?? [] {
            guard let kind = LiaisonModel.Category.Kind(rawValue: c.kind) else {
                throw OperatorError(
                    .invalidInput, "category kind \(c.kind.prefix(20)) is not one of \(LiaisonModel.Category.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            categories.append(LiaisonModel.Category(tag: c.tag, kind: kind, values: c.values))
        }
        guard accounts.scheme.level(v.level) != nil else {
            throw OperatorError(
                .invalidInput, "\(v.level.prefix(20)) is not a level of \(party)'s scheme (\(accounts.scheme.levels.map(\.code).joined(separator: ", ")))")
        }
        do {
            return try SecurityLabel(
                policy: v.policy ?? "national:\(party)", originator: party, level: v.level, releasableTo: parties, categories: categories,
                purpose: v.purpose, created: v.created ?? Date(), review: v.review)
        } catch {
            throw OperatorError(.invalidInput, "the label: \(error.reason)")
        }
    }

    /// What a refused reader is told: the article and which of their own
    /// attributes falls short, never the item's level or categories (their
    /// names can be classified; the ledger keeps the whole reason).
    static func readerFacing(_ r: Refusal) -> String {
        switch r.code.name {
        case "clearanceTooLow": "your clearance is below this item's level at this node"
        case "missingRestrictiveCategory", "missingPermissiveCategory": "you do not hold the need-to-know this item requires"
        case "clearanceExpired", "accountDisabled", "wrongNode": r.reason
        case "invalidInState": r.reason
        default: "this item is not releasable to you"
        }
    }

    /// A releasing officer releases only what they may read; anything else is, to them, not there.
    func requireReadable(_ caller: Caller, _ id: [UInt8]) async throws(OperatorError) {
        let holdings: [LiaisonStore.Holding]
        do { holdings = try await federation.store.holdings([id]) } catch {
            if error.code == .notFound { throw OperatorError(.notFound, "no item \(Hex.encode(id)) that you may read is held here") }
            throw OperatorError(error)
        }
        guard let h = holdings.first, mayRead(caller.reader, h, at: Date()) else {
            throw OperatorError(.notFound, "no item \(Hex.encode(id)) that you may read is held here")
        }
    }

    // MARK: Acts, as the API and the console both take them: the role, then the item the caller may read, then the federation's act.

    func releaseAct(_ c: Caller, _ id: [UInt8], to peer: Party, agreement: String) async throws(OperatorError) -> OutboxTask {
        try require(c, [.releasingOfficer], to: "release items")
        guard federation.book[agreement] != nil else { throw OperatorError(.notFound, "no agreement \(agreement.prefix(80)) is known here") }
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in try await federation.release(itemID: id, to: peer, agreement: agreement) }
    }

    func consentAct(_ c: Caller, _ id: [UInt8], holder: Party, thirdParty: Party, purpose: String?, days: Int) async throws(OperatorError)
        -> (consent: Signed<ConsentBody>, tasks: [StatementTask])
    {
        try require(c, [.releasingOfficer], to: "consent to passing items on")
        guard (1...366).contains(days) else { throw OperatorError(.invalidInput, "a consent lasts 1 to 366 days, not \(days)") }
        if let p = purpose, !(1...200).contains(p.count) { throw OperatorError(.invalidInput, "a purpose has 1 to 200 characters") }
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in
            try await federation.grantConsent(
                itemID: id, holder: holder, thirdParty: thirdParty, purpose: purpose, expires: Date().addingTimeInterval(TimeInterval(days) * 86_400),
                by: c.user.name)
        }
    }

    func requestConsentAct(_ c: Caller, _ id: [UInt8], thirdParty: String, purpose: String?, reason: String) async throws(OperatorError)
        -> (request: ConsentRequestRecord, tasks: [StatementTask])
    {
        try require(c, [.releasingOfficer], to: "ask for consent to pass items on")
        guard let third = Party(thirdParty) else { throw OperatorError(.invalidInput, "third_party is a party code (three letters, as USA)") }
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in
            try await federation.requestConsent(itemID: id, thirdParty: third, purpose: purpose, reason: reason, by: c.user.name)
        }
    }

    func consentRequestsAct(_ c: Caller, state: String?) async throws(OperatorError) -> [ConsentRequestRecord] {
        try require(c, [.releasingOfficer, .auditor], to: "see consent requests")
        let wanted = try state.map { text throws(OperatorError) -> ConsentRequestRecord.State in
            guard let s = ConsentRequestRecord.State(rawValue: text) else {
                throw OperatorError(.invalidInput, "state is pending, granted or denied, not \(text.prefix(40))")
            }
            return s
        }
        let all = try await store { () throws(StoreError) in try await federation.store.consentRequests(state: wanted, itemDigest: nil, limit: 500) }
        let readable = try await readableItems(c, all.map(\.itemID))
        return all.filter { readable.contains($0.itemID) }
    }

    /// The items among `ids` the caller may read (Art 7): lists about items
    /// show only those, as the item lists do.
    func readableItems(_ c: Caller, _ ids: [[UInt8]]) async throws(OperatorError) -> Set<[UInt8]> {
        let unique = Array(Set(ids))
        guard !unique.isEmpty else { return [] }
        let holdings = try await store { () throws(StoreError) in try await federation.store.holdings(unique) }
        let now = Date()
        return Set(holdings.filter { mayRead(c.reader, $0, at: now) }.map(\.itemID))
    }

    func answerAct(_ c: Caller, _ id: String, grantFor days: Int?, denyBecause reason: String?) async throws(OperatorError)
        -> (request: ConsentRequestRecord, tasks: [StatementTask])
    {
        try require(c, [.releasingOfficer], to: "answer consent requests")
        if let days, !(1...366).contains(days) { throw OperatorError(.invalidInput, "a consent lasts 1 to 366 days, not \(days)") }
        // Request ids are at most 200 bytes: a longer one names nothing here.
        guard (1...200).contains(id.utf8.count) else { throw OperatorError(.notFound, "no consent request \(id.prefix(80))…") }
        let request = try await store { () throws(StoreError) in try await federation.store.consentRequest(id) }
        try await requireReadable(c, request.itemID)
        return try await federated { () throws(FederationError) in
            try await federation.answerConsentRequest(id, grantFor: days, denyBecause: reason, by: c.user.name)
        }
    }

    func compromiseAct(_ c: Caller, _ id: [UInt8], stage name: String, description: String, incident: String? = nil) async throws(OperatorError)
        -> [StatementTask]
    {
        try require(c, [.securityOfficer], to: "report a loss or compromise")
        guard let stage = Self.stages[name] else {
            throw OperatorError(.invalidInput, "stage is one of \(Self.stages.keys.sorted().joined(separator: ", ")), not \(name.prefix(40))")
        }
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in
            try await federation.reportCompromise(itemID: id, stage: stage, description: description, continuing: incident, by: c.user.name)
        }
    }

    /// Loss and compromise reports, newest first: those made here and
    /// those received as originator (security officers and auditors).
    func incidentsAct(_ c: Caller, before: Int64?, limit: Int) async throws(OperatorError) -> [OperatorViews.IncidentView] {
        try require(c, [.securityOfficer, .auditor], to: "see loss and compromise reports")
        // Only reports on items the caller may read, `limit` of them, looking
        // further back page by page (at most 20 pages) when some are withheld.
        var shown: [ItemEvent] = []
        var cursor = before
        for _ in 0..<20 where shown.count < limit {
            let events = try await store { () throws(StoreError) in
                try await federation.store.holdingEvents(kind: .compromised, before: cursor, limit: limit)
            }
            guard let last = events.last else { break }
            let readable = try await readableItems(c, events.map(\.itemID))
            shown += events.filter { readable.contains($0.itemID) }.prefix(limit - shown.count)
            cursor = last.sequence
            if events.count < limit { break }
        }
        return shown.map { Self.incident($0, here: party) }
    }

    static func incident(_ e: ItemEvent, here: Party) -> OperatorViews.IncidentView {
        guard let report = try? Signed<CompromiseReport>(canonical: e.event.evidence).body else {
            return OperatorViews.IncidentView(
                incident: "", stage: "", reporter: "", originator: "", item: Hex.encode(e.itemID), at: e.event.at,
                description: "the stored report does not decode", received: false, sequence: e.sequence)
        }
        return OperatorViews.IncidentView(
            incident: report.id, stage: stages.first { $0.value == report.stage }?.key ?? "\(report.stage)", reporter: report.reporter.code,
            originator: report.originator.code, item: Hex.encode(e.itemID), at: report.at, description: report.description,
            received: report.reporter != here, sequence: e.sequence)
    }

    func reclassifyAct(_ c: Caller, _ id: [UInt8], to level: String, reason: String) async throws(OperatorError) -> [StatementTask] {
        try require(c, [.releasingOfficer, .securityOfficer], to: "reclassify items")
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in try await federation.reclassify(itemID: id, to: level, reason: reason, by: c.user.name) }
    }

    func destroyAct(_ c: Caller, _ id: [UInt8], method: String) async throws(OperatorError) -> [StatementTask] {
        try require(c, [.securityOfficer], to: "destroy items")
        try await requireReadable(c, id)
        return try await federated { () throws(FederationError) in try await federation.destroy(itemID: id, method: method, request: nil, by: c.user.name) }
    }

    func acknowledgeAct(_ c: Caller, _ code: String?) async throws(OperatorError) {
        try require(c, [.securityOfficer], to: "acknowledge alarms")
        guard let peer = code.flatMap(Party.init) else { throw OperatorError(.invalidInput, "\((code ?? "").prefix(8)) is not a party code") }
        try await federated { () throws(FederationError) in try await federation.acknowledgeAlarm(peer, by: c.user.name) }
    }

    /// Asks for an item to be released to a peer: the release policy decides now and again when it is sealed.
    func release(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer], to: "release items")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.ReleaseRequest.self, request, context, limit: 16 << 10)
        guard let peer = Party(body.to) else { throw OperatorError(.invalidInput, "\(body.to.prefix(8)) is not a party code") }
        let task = try await releaseAct(caller, id, to: peer, agreement: body.agreement)
        return try json(
            OperatorViews.ReleaseView(task: task.id, to: peer.code, agreement: task.agreement, linkSequence: task.linkSequence, state: task.state.rawValue),
            status: .accepted)
    }

    // MARK: Officers' acts

    /// The originator's consent for a holder to pass this node's item to a third party (Art 6(a)).
    func consent(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer], to: "consent to passing items on")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.ConsentRequest.self, request, context, limit: 16 << 10)
        guard let holder = Party(body.holder), let third = Party(body.thirdParty) else {
            throw OperatorError(.invalidInput, "holder and third_party are party codes (three letters, as JPN)")
        }
        let given = try await consentAct(caller, id, holder: holder, thirdParty: third, purpose: body.purpose, days: body.days)
        let consent = given.consent.body.consent
        return try json(
            OperatorViews.ConsentView(
                id: consent.id, holder: holder.code, thirdParty: third.code, expires: consent.expiresAt, tasks: given.tasks.map(\.id)), status: .created)
    }

    static let stages: [String: CompromiseReport.Stage] = ["suspected": .suspected, "investigating": .investigating, "findings": .findings, "measures": .measures]

    /// A loss or compromise report (Art 17): the item marked compromised here, the originator told at once.
    func compromise(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.securityOfficer], to: "report a loss or compromise")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.CompromiseRequest.self, request, context, limit: 16 << 10)
        let tasks = try await compromiseAct(caller, id, stage: body.stage, description: body.description, incident: body.incident)
        return try json(OperatorViews.StatementsView(tasks: tasks.map(\.id)), status: .created)
    }

    /// A holder's releasing officer asks the originator for consent (Art 6(a)).
    func requestConsent(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer], to: "ask for consent to pass items on")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.NewConsentRequest.self, request, context, limit: 16 << 10)
        let asked = try await requestConsentAct(caller, id, thirdParty: body.thirdParty, purpose: body.purpose, reason: body.reason)
        return try json(OperatorViews.ConsentRequestView(asked.request, tasks: asked.tasks.map(\.id)), status: .created)
    }

    func consentRequests(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        let list = try await consentRequestsAct(caller, state: request.uri.queryParameters.get("state").map { String($0) })
        return try json(list.map { OperatorViews.ConsentRequestView($0) })
    }

    /// The originator's releasing officer grants a request received here: the consent is signed and sent.
    func grant(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer], to: "answer consent requests")
        let body = try await decode(OperatorViews.GrantRequest.self, request, context, limit: 4 << 10)
        let answered = try await answerAct(caller, context.parameters.get("request") ?? "", grantFor: body.days, denyBecause: nil)
        return try json(OperatorViews.ConsentRequestView(answered.request, tasks: answered.tasks.map(\.id)), status: .created)
    }

    /// The originator's releasing officer denies a request received here; the signed denial goes to the holder.
    func deny(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer], to: "answer consent requests")
        let body = try await decode(OperatorViews.DenyRequest.self, request, context, limit: 16 << 10)
        let answered = try await answerAct(caller, context.parameters.get("request") ?? "", grantFor: nil, denyBecause: body.reason)
        return try json(OperatorViews.ConsentRequestView(answered.request, tasks: answered.tasks.map(\.id)))
    }

    func incidents(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        let limit = try query(request, "limit", default: 100, 1...1000)
        let before = try request.uri.queryParameters.get("before").map { text throws(OperatorError) -> Int64 in
            guard let n = Int64(text), n > 0 else { throw OperatorError(.invalidInput, "before is a positive sequence number, not \(text.prefix(40))") }
            return n
        }
        return try json(try await incidentsAct(caller, before: before, limit: limit))
    }

    /// The originator reclassifies its item (Art 6(g)); every holder is told and re-marks.
    func reclassify(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.releasingOfficer, .securityOfficer], to: "reclassify items")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.ReclassifyRequest.self, request, context, limit: 16 << 10)
        let tasks = try await reclassifyAct(caller, id, to: body.level, reason: body.reason)
        return try json(OperatorViews.StatementsView(tasks: tasks.map(\.id)), status: .created)
    }

    /// A security officer destroys a held item (Art 6(h), 13); the originator receives the certificate.
    func destroy(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.securityOfficer], to: "destroy items")
        let id = try itemID(context)
        let body = try await decode(OperatorViews.DestroyRequest.self, request, context, limit: 16 << 10)
        let tasks = try await destroyAct(caller, id, method: body.method)
        return try json(OperatorViews.StatementsView(tasks: tasks.map(\.id)), status: .created)
    }

    /// A security officer acknowledges a peer's alarm: exchange resumes (recorded).
    func acknowledge(_ request: Request, _ context: OperatorContext) async throws -> Response {
        try await acknowledgeAct(try await caller(request, changing: true), context.parameters.get("party"))
        return Response(status: .noContent)
    }

    // MARK: Agreements, peers, ledger

    func agreements(_ request: Request, _ context: OperatorContext) async throws -> Response {
        _ = try await caller(request, changing: false)
        let now = Date()
        let views = federation.book.lifecycles.values.filter { $0.agreement.isParty(party) }.sorted { $0.agreement.id < $1.agreement.id }.map {
            lifecycle in
            let s = lifecycle.status(at: now)
            return OperatorViews.AgreementView(
                id: lifecycle.agreement.id, title: lifecycle.agreement.title, parties: lifecycle.agreement.partyCodes.map(\.code), phase: s.phase.rawValue,
                inForce: s.isInForce, since: s.since, currentTermEnds: s.currentTerm?.end, nextNoticeDeadline: s.nextNoticeDeadline,
                scheduledTermination: s.scheduledTermination, terminatedAt: s.terminatedAt)
        }
        return try json(views)
    }

    /// An agreement's lifecycle statements in force order: the ones it
    /// came with and every signed one recorded here since.
    func statements(_ request: Request, _ context: OperatorContext) async throws -> Response {
        _ = try await caller(request, changing: false)
        let lifecycle = try agreement(context)
        return try json(lifecycle.accepted.map { OperatorViews.StatementView($0) })
    }

    /// A security officer issues a lifecycle act of this node's party (Art 21).
    func issueStatement(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: true)
        try require(caller, [.securityOfficer], to: "issue lifecycle statements on agreements")
        let lifecycle = try agreement(context)
        let body = try await decode(OperatorViews.StatementRequest.self, request, context, limit: 16 << 10)
        let issued = try await statementAct(caller, agreement: lifecycle.agreement.id, body)
        return try json(OperatorViews.StatementView(issued.statement, ledgerEntry: issued.entry, tasks: issued.tasks.map(\.id)), status: .created)
    }

    func statementAct(_ c: Caller, agreement: Agreement.ID, _ r: OperatorViews.StatementRequest) async throws(OperatorError)
        -> (statement: LifecycleStatement, entry: Int, tasks: [StatementTask])
    {
        try require(c, [.securityOfficer], to: "issue lifecycle statements on agreements")
        let act: LifecycleStatement.Act
        switch LifecycleStatement.Act.make(
            r.act, effective: r.effective, notice: r.notice, condition: r.condition, proposal: r.proposal, summary: r.summary)
        {
        case .success(let a): act = a
        case .failure(let e): throw OperatorError(.invalidInput, e.reason)
        }
        if let note = r.note, !(1...500).contains(note.count) { throw OperatorError(.invalidInput, "a note has 1 to 500 characters") }
        let issued = try await federated { () throws(FederationError) in
            try await federation.issueStatement(agreement: agreement, act: act, note: r.note, by: c.user.name)
        }
        return (issued.statement.body.statement, issued.entry, issued.tasks)
    }

    /// The agreement a path names, among this node's.
    func agreement(_ context: OperatorContext) throws(OperatorError) -> AgreementLifecycle {
        let id = context.parameters.get("agreement") ?? ""
        guard let lifecycle = federation.book[id], lifecycle.agreement.isParty(party) else {
            throw OperatorError(.notFound, "\(party) is not a party to an agreement \(id.prefix(80)) known here")
        }
        return lifecycle
    }

    func peers(_ request: Request, _ context: OperatorContext) async throws -> Response {
        _ = try await caller(request, changing: false)
        let status = try await federated { () throws(FederationError) in try await federation.status() }
        return try json(
            status.map {
                OperatorViews.PeerView(
                    party: $0.party.code, endpoint: $0.endpoint, queued: $0.queued, inFlight: $0.inFlight, delivered: $0.delivered, refused: $0.refused,
                    lagSeconds: $0.lag, lastSuccess: $0.lastSuccess, lastError: $0.lastError, alarm: $0.alarm, treeSize: $0.treeSize)
            })
    }

    func treeHead(_ request: Request, _ context: OperatorContext) async throws -> Response {
        _ = try await caller(request, changing: false)
        let bytes = try await federated { () throws(FederationError) in try await federation.latestTreeHead() }
        let head: SignedTreeHead
        do { head = try SignedTreeHead(canonical: bytes) } catch { throw OperatorError(.unavailable, "the ledger's head does not decode: \(error.reason)") }
        return try json(
            OperatorViews.TreeHeadView(
                party: head.body.party.code, size: head.body.size, root: Hex.encode(head.body.root), at: head.body.at,
                signed: Data(bytes).base64EncodedString()))
    }

    /// A ledger entry with its inclusion proof (auditors and security officers).
    func ledgerEntry(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        try require(caller, [.auditor, .securityOfficer], to: "read the ledger's entries")
        guard let text = context.parameters.get("index"), let index = Int(text), index >= 0 else {
            throw OperatorError(.invalidInput, "an entry's index is a whole number, 0 or more")
        }
        let proven = try await federated { () throws(FederationError) in try await federation.provenEntry(index) }
        let e = proven.entry
        return try json(
            OperatorViews.LedgerEntryView(
                index: index, kind: "\(e.kind)", at: e.at, party: e.party?.code, subjects: e.subjects.map(Hex.encode), detail: e.detail,
                entry: Data(e.derBytes).base64EncodedString(), treeSize: proven.head.body.size, root: Hex.encode(proven.head.body.root),
                inclusionProof: proven.proof.map(Hex.encode), treeHead: Data(proven.head.derBytes).base64EncodedString()))
    }

    /// A consistency proof between two sizes of the ledger (auditors and security officers).
    func consistency(_ request: Request, _ context: OperatorContext) async throws -> Response {
        let caller = try await caller(request, changing: false)
        try require(caller, [.auditor, .securityOfficer], to: "read the ledger's proofs")
        guard let from = request.uri.queryParameters.get("from").flatMap({ Int($0) }), let to = request.uri.queryParameters.get("to").flatMap({ Int($0) })
        else { throw OperatorError(.invalidInput, "consistency takes from and to, ledger sizes") }
        let proven = try await federated { () throws(FederationError) in try await federation.provenConsistency(from: from, to: to) }
        return try json(
            OperatorViews.ConsistencyView(
                from: from, to: to, proof: proven.proof.map(Hex.encode), treeHead: Data(proven.head.derBytes).base64EncodedString(),
                toTreeHead: proven.headAtTo.map { Data($0.derBytes).base64EncodedString() }))
    }

    // MARK: Helpers

    func store<T>(_ body: () async throws(StoreError) -> T) async throws(OperatorError) -> T {
        do { return try await body() } catch { throw OperatorError(error) }
    }

    func federated<T>(_ body: () async throws(FederationError) -> T) async throws(OperatorError) -> T {
        do { return try await body() } catch { throw OperatorError(error) }
    }

    func query(_ request: Request, _ name: String, default value: Int, _ range: ClosedRange<Int>) throws(OperatorError) -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let v = Int(text), range.contains(v) else {
            throw OperatorError(.invalidInput, "\(name) takes a number from \(range.lowerBound) to \(range.upperBound), not \(text.prefix(40))")
        }
        return v
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RFC3339.format(date))
        }
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(text.prefix(40)) is not an RFC 3339 instant")
            }
            return date
        }
        return d
    }()

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try Self.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Reads a JSON body of at most `limit` bytes; a body that is not the
    /// expected object is refused with where and why.
    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: OperatorContext, limit: Int) async throws -> T {
        // JSON only: a form cannot send it from another site without a preflight (login CSRF).
        guard let contentType = request.headers[.contentType], contentType.lowercased().hasPrefix("application/json") else {
            throw OperatorError(.invalidInput, "the body must be application/json, not \(request.headers[.contentType]?.prefix(60) ?? "untyped")")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: limit) } catch {
            throw OperatorError(.oversized, "the body is larger than \(limit) bytes")
        }
        let data = Data(body.readableBytesView)
        let value: T
        do { value = try Self.decoder.decode(T.self, from: data) } catch let e as DecodingError {
            throw OperatorError(.invalidInput, "the body: \(Self.explain(e))")
        }
        // A field this API does not know is refused, not ignored (a misspelt field would otherwise be dropped without a word).
        if let json = try? JSONSerialization.jsonObject(with: data), let unknown = Self.unknownField(json, in: value, path: "") {
            throw OperatorError(.invalidInput, "the body: \(unknown) is not a field of this request")
        }
        return value
    }

    /// The first key of `json` that `value` (what it decoded into) has no property for.
    static func unknownField(_ json: Any, in value: Any, path: String) -> String? {
        var mirror = Mirror(reflecting: value)
        while mirror.displayStyle == .optional, let wrapped = mirror.children.first?.value { mirror = Mirror(reflecting: wrapped) }
        switch json {
        case let object as [String: Any]:
            guard mirror.displayStyle == .struct else { return nil }
            var properties: [String: Any] = [:]
            for child in mirror.children { if let label = child.label { properties[snake(label)] = child.value } }
            for (key, nested) in object.sorted(by: { $0.key < $1.key }) {
                let at = path.isEmpty ? key : "\(path).\(key)"
                guard let property = properties[key] else { return at }
                if let unknown = unknownField(nested, in: property, path: at) { return unknown }
            }
            return nil
        case let array as [Any]:
            guard mirror.displayStyle == .collection else { return nil }
            for (i, (element, child)) in zip(array, mirror.children).enumerated() {
                if let unknown = unknownField(element, in: child.value, path: "\(path)[\(i)]") { return unknown }
            }
            return nil
        default:
            return nil
        }
    }

    static func explain(_ e: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\(snake($0.stringValue))" }.joined()
            return p.isEmpty ? "the top level" : String(p.drop { $0 == "." })
        }
        switch e {
        case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])) is required"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "\(path(c.codingPath)) has the wrong type (\(c.debugDescription))"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not JSON" : "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "not the expected object"
        }
    }

    static func snake(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase {
                out += "_" + ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }
}

/// Errors as RFC 9457 problem details; a refusal names its article.
struct OperatorProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let error as OperatorError {
            var extra: [String: Any] = ["code": error.code.name]
            if let r = error.refusal {
                extra["article"] = r.article.citation
                extra["refusal"] = r.code.name
            }
            var response = problem(error.status, error.reason, extra)
            if error.code == .unauthenticated { response.headers[.wwwAuthenticate] = "Bearer realm=\"liaison\"" }
            return response
        } catch let error as HTTPError {
            return problem(error.status, error.body ?? error.status.reasonPhrase, [:])
        } catch let error as any HTTPResponseError {
            return problem(error.status, error.status.reasonPhrase, [:])
        } catch {
            return problem(.internalServerError, "internal error", [:])
        }
    }

    func problem(_ status: HTTPResponse.Status, _ detail: String, _ extra: [String: Any]) -> Response {
        var object: [String: Any] = ["type": "about:blank", "title": status.reasonPhrase, "status": status.code, "detail": detail]
        object.merge(extra) { a, _ in a }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
