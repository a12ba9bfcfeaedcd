internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import LiaisonFederation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import Mustache
internal import NIOCore

/// The web console (DESIGN §5): server-rendered pages, no scripts, no
/// external assets, a classification banner at top and bottom showing the
/// highest marking on the page. Every page goes through the same services
/// as the JSON API, so the same policies decide and the same ledger records.
struct Console: Sendable {
    let api: Handlers
    let ledgerTrust: TrustStore
    let library: MustacheLibrary

    init(api: Handlers, ledgerTrust: TrustStore) {
        self.api = api
        self.ledgerTrust = ledgerTrust
        var library = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all {
            // The templates are part of the program: one that does not parse is a bug caught by every test.
            try! library.register(text, named: name)
        }
        self.library = library
    }

    var federation: Federation { api.federation }
    var accounts: Accounts { api.accounts }
    var party: Party { federation.party }

    func register(_ router: Router<OperatorContext>) {
        router.get("/") { request, _ in try await self.page(request) { c in try await self.dashboard(c) } }
        router.get("login") { request, _ in self.loginPage(request) }
        router.post("login") { request, context in try await self.login(request, context) }
        router.post("logout") { request, context in try await self.logout(request, context) }
        router.get("items") { request, _ in try await self.page(request) { c in try await self.items(c) } }
        router.get("items/:id") { request, context in try await self.page(request) { c in try await self.item(c, context) } }
        router.post("items/:id/release") { request, context in
            try await self.form(request, context) { c, form in try await self.release(c, form, context) }
        }
        router.post("items/:id/consent") { request, context in
            try await self.form(request, context) { c, form in try await self.consent(c, form, context) }
        }
        router.post("items/:id/compromise") { request, context in
            try await self.form(request, context) { c, form in try await self.compromise(c, form, context) }
        }
        router.post("items/:id/reclassify") { request, context in
            try await self.form(request, context) { c, form in
                let id = try api.itemID(context)
                _ = try await api.reclassifyAct(c, id, to: form["level"]?.first ?? "", reason: form["reason"]?.first ?? "")
                return redirect("/items/\(Hex.encode(id))")
            }
        }
        router.post("items/:id/destroy") { request, context in
            try await self.form(request, context) { c, form in
                _ = try await api.destroyAct(c, try api.itemID(context), method: form["method"]?.first ?? "")
                return redirect("/items")
            }
        }
        router.get("consents") { request, _ in try await self.page(request) { c in try await self.consentsPage(c) } }
        router.post("items/:id/consent-request") { request, context in
            try await self.form(request, context) { c, form in
                let id = try api.itemID(context)
                _ = try await api.requestConsentAct(
                    c, id, thirdParty: form["third"]?.first ?? "", purpose: form["purpose"]?.first.flatMap { $0.isEmpty ? nil : $0 },
                    reason: form["reason"]?.first ?? "")
                return redirect("/consents")
            }
        }
        router.post("consents/:request/grant") { request, context in
            try await self.form(request, context) { c, form in
                guard let days = form["days"]?.first.flatMap({ Int($0) }) else { throw OperatorError(.invalidInput, "days is a whole number of days, 1 to 366") }
                _ = try await api.answerAct(c, context.parameters.get("request") ?? "", grantFor: days, denyBecause: nil)
                return redirect("/consents")
            }
        }
        router.post("consents/:request/deny") { request, context in
            try await self.form(request, context) { c, form in
                _ = try await api.answerAct(c, context.parameters.get("request") ?? "", grantFor: nil, denyBecause: form["reason"]?.first ?? "")
                return redirect("/consents")
            }
        }
        router.get("incidents") { request, _ in try await self.page(request) { c in try await self.incidentsPage(c, request) } }
        router.get("agreements/:agreement") { request, context in
            try await self.page(request) { c in try await self.agreementPage(c, context) }
        }
        router.post("agreements/:agreement/statements") { request, context in
            try await self.form(request, context) { c, form in try await self.issueStatement(c, form, context) }
        }
        router.post("peers/:party/acknowledge") { request, context in
            try await self.form(request, context) { c, _ in try await self.acknowledge(c, context) }
        }
        router.get("users") { request, _ in try await self.page(request) { c in try await self.usersPage(c, error: nil) } }
        router.post("users") { request, context in try await self.form(request, context) { c, form in try await self.addUser(c, form) } }
        router.post("users/:name/disable") { request, context in
            try await self.form(request, context) { c, _ in try await self.setDisabled(c, context, true) }
        }
        router.post("users/:name/enable") { request, context in
            try await self.form(request, context) { c, _ in try await self.setDisabled(c, context, false) }
        }
        router.get("compose") { request, _ in try await self.page(request) { c in try await self.composePage(c, form: [:], check: nil, error: nil) } }
        router.post("compose") { request, context in try await self.form(request, context) { c, form in try await self.compose(c, form) } }
        router.get("ledger") { request, _ in try await self.page(request) { c in try await self.ledger(c, verified: nil) } }
        router.post("ledger/verify") { request, context in try await self.form(request, context) { c, _ in try await self.verifyLedger(c) } }
    }

    // MARK: Pages and forms

    /// What a page hands to the layout: its title, its body, and the levels shown on it (for the banner).
    struct Page {
        var title: String
        var body: String
        var levels: [Level] = []
        var status: HTTPResponse.Status = .ok
    }

    /// A page for a logged-in user; others go to the login page.
    func page(_ request: Request, _ build: (Caller) async throws -> Page) async throws -> Response {
        guard let secret = request.cookies[OperatorAPI.sessionCookie(party)]?.value, let user = try? await accounts.session(secret) else {
            return redirect("/login?next=" + (request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
        }
        let caller = Caller(user: user, session: secret)
        do { return html(try await build(caller), caller: caller, path: request.uri.path) } catch let e as OperatorError {
            return html(refusalPage(e, back: "/"), caller: caller, path: request.uri.path)
        }
    }

    /// A form post: the session and its CSRF token are required.
    func form(_ request: Request, _ context: OperatorContext, _ handle: (Caller, [String: [String]]) async throws -> Response) async throws
        -> Response
    {
        guard let secret = request.cookies[OperatorAPI.sessionCookie(party)]?.value, let user = try? await accounts.session(secret) else {
            return redirect("/login")
        }
        let caller = Caller(user: user, session: secret)
        guard Self.sameOrigin(request) else {
            return html(refusalPage(OperatorError(.forbidden, "the form was sent from another site"), back: "/"), caller: caller, path: request.uri.path)
        }
        let fields: [String: [String]]
        do { fields = try await Self.fields(request) } catch let e as OperatorError {
            return html(refusalPage(e, back: "/"), caller: caller, path: request.uri.path)
        }
        guard Accounts.csrfMatches(fields["csrf"]?.first, session: secret) else {
            return html(
                refusalPage(OperatorError(.forbidden, "the form's CSRF token is missing or does not match this session; reload the page"), back: "/"),
                caller: caller, path: request.uri.path)
        }
        do { return try await handle(caller, fields) } catch let e as OperatorError {
            return html(refusalPage(e, back: "/"), caller: caller, path: request.uri.path)
        }
    }

    /// A browser says where a form comes from (`Sec-Fetch-Site`, `Origin`):
    /// one from another site is refused, even with a valid CSRF token.
    static func sameOrigin(_ request: Request) -> Bool {
        // Browsers of the last years send Sec-Fetch-Site on every request; it is the more precise of the two.
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] { return ["same-origin", "none"].contains(site) }
        if let origin = request.headers[HTTPField.Name("Origin")!], let host = request.head.authority {
            return origin == "https://\(host)"
        }
        return true
    }

    /// An `application/x-www-form-urlencoded` body of at most 1 MiB.
    static func fields(_ request: Request) async throws -> [String: [String]] {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 1 << 20) } catch { throw OperatorError(.oversized, "the form is larger than 1 MiB") }
        var out: [String: [String]] = [:]
        for pair in String(decoding: body.readableBytesView, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            out[decode(parts[0]), default: []].append(parts.count > 1 ? decode(parts[1]) : "")
        }
        return out
    }

    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    func html(_ page: Page, caller: Caller?, path: String) -> Response {
        var object: [String: Any] = [
            "title": page.title, "party": party.code, "style": ConsoleTemplates.style, "body": page.body, "banner": banner(page.levels),
        ]
        if let caller {
            let u = caller.user
            object["user"] = [
                "name": u.name, "displayName": u.displayName, "roles": u.roles.sorted().map(\.rawValue).joined(separator: ", "),
                "clearance": u.clearance.map { c in accounts.scheme.level(c.level).map { "\($0.marking) (\($0.code))" } ?? c.level } ?? "none",
                "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
                "nav": ([("Dashboard", "/"), ("Items", "/items"), ("Compose", "/compose"), ("Ledger", "/ledger")]
                    + (u.roles.isDisjoint(with: [.releasingOfficer, .auditor]) ? [] : [("Consents", "/consents")])
                    + (u.roles.isDisjoint(with: [.securityOfficer, .auditor]) ? [] : [("Incidents", "/incidents")])
                    + (u.roles.isDisjoint(with: [.administrator, .securityOfficer, .auditor]) ? [] : [("Users", "/users")])).map { name, href in
                    ["name": name, "href": href, "on": href == "/" ? path == "/" : path.hasPrefix(href)] as [String: Any]
                },
            ]
        }
        let text = library.render(object, withTemplate: "layout") ?? ""
        return Response(
            status: page.status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("Content-Security-Policy")!:
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
            ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func render(_ template: String, _ object: [String: Any]) -> String { library.render(object, withTemplate: template) ?? "" }

    // MARK: Banner

    /// The classification banner: the highest level on the page, coloured
    /// by its place in the node's scheme (the top level orange, then red,
    /// blue, purple); green when the page shows no classified information.
    func banner(_ levels: [Level]) -> [String: String] {
        guard let top = levels.max(by: { $0.rank < $1.rank }) else {
            return ["text": "UNCLASSIFIED — no classified information on this page", "background": "#007a33", "foreground": "#ffffff"]
        }
        var c = colour(top)
        let romanized = top.romanization.uppercased()
        c["text"] = "\(top.marking)\(romanized == top.marking.uppercased() ? "" : " (\(romanized))") — \(party) — highest marking on this page"
        return c
    }

    func colour(_ level: Level?) -> [String: String] {
        let palette = [("#ff8c00", "#000000"), ("#c8102e", "#ffffff"), ("#0033a0", "#ffffff"), ("#502b85", "#ffffff")]
        guard let level else { return ["background": palette[0].0, "foreground": palette[0].1] }
        let ranked = accounts.scheme.levels.sorted { $0.rank > $1.rank }
        let i = min(ranked.firstIndex { $0.code == level.code } ?? 0, palette.count - 1)
        return ["background": palette[i].0, "foreground": palette[i].1]
    }

    /// The level an item bears at this node (its local equivalent).
    func localLevel(_ h: LiaisonStore.Holding) -> Level? {
        var agreement: Agreement?
        if case .received(_, let id) = h.source { agreement = federation.book[id]?.agreement }
        return try? AccessPolicy.localLevel(of: h.label, at: accounts.scheme, under: agreement).get()
    }

    // MARK: Login

    func loginPage(_ request: Request, error: String? = nil, name: String = "", status: HTTPResponse.Status = .ok) -> Response {
        let next = request.uri.queryParameters.get("next").map { Self.safeNext($0) }.flatMap { $0 == "/" ? nil : $0 }
        var page = Page(
            title: "Log in",
            body: render(
                "login",
                [
                    "party": party.code, "error": error ?? false, "name": name,
                    "next": next?.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? false,
                ]))
        page.status = status
        return html(page, caller: nil, path: "/login")
    }

    func login(_ request: Request, _ context: OperatorContext) async throws -> Response {
        guard Self.sameOrigin(request) else { return loginPage(request, error: "the login form was sent from another site", status: .forbidden) }
        let fields: [String: [String]]
        do { fields = try await Self.fields(request) } catch let e as OperatorError {
            return loginPage(request, error: e.reason, status: e.status)
        }
        let name = fields["name"]?.first ?? "", password = fields["password"]?.first ?? ""
        do {
            let session = try await accounts.login(name, password: password)
            var response = redirect(Self.safeNext(request.uri.queryParameters.get("next")))
            response.setCookie(
                Cookie(
                    name: OperatorAPI.sessionCookie(party), value: session.secret, maxAge: Int(accounts.policy.sessionLifetime), path: "/", secure: true,
                    httpOnly: true, sameSite: .strict))
            return response
        } catch {
            return loginPage(request, error: error.reason, name: name, status: error.status)
        }
    }

    /// Only a path of this site is followed after login: `/` then letters,
    /// digits, `/`, `-`, `_`, `.` — no scheme, no host, no `//`, no
    /// whitespace or control character a browser would drop.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), next.count <= 200,
            next.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "/-_.".unicodeScalars.contains($0) })
        else { return "/" }
        return next
    }

    func logout(_ request: Request, _ context: OperatorContext) async throws -> Response {
        if let secret = request.cookies[OperatorAPI.sessionCookie(party)]?.value {
            let fields = (try? await Self.fields(request)) ?? [:]
            // Another site cannot log the user out either.
            guard Self.sameOrigin(request), Accounts.csrfMatches(fields["csrf"]?.first, session: secret) else { return redirect("/") }
            await accounts.logout(secret)
        }
        var response = redirect("/login")
        response.setCookie(Cookie(name: OperatorAPI.sessionCookie(party), value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
        return response
    }

    // MARK: Dashboard

    func dashboard(_ caller: Caller) async throws -> Page {
        let now = Date()
        let agreements = federation.book.lifecycles.values.filter { $0.agreement.isParty(party) }.sorted { $0.agreement.id < $1.agreement.id }.map {
            lifecycle -> [String: Any] in
            let s = lifecycle.status(at: now)
            var deadlines: [String] = []
            if let d = s.nextNoticeDeadline { deadlines.append("notice deadline \(Self.day(d))") }
            if let d = s.nextAnniversary { deadlines.append("term renews \(Self.day(d))") }
            if let d = s.scheduledTermination { deadlines.append("terminates \(Self.day(d))") }
            let tone = s.phase == .terminated ? "bad" : s.phase == .inForce ? "ok" : s.phase == .pending ? "info" : "warn"
            return [
                "id": lifecycle.agreement.id, "title": lifecycle.agreement.title, "parties": lifecycle.agreement.partyCodes.map(\.code).joined(separator: ", "),
                "phase": s.phase.rawValue, "tone": tone, "since": s.since.map(Self.day) ?? false, "deadlines": deadlines,
                "events": lifecycle.events.filter { $0.at <= now }.suffix(6).map { ["at": Self.day($0.at), "phase": $0.phase.rawValue, "cause": $0.cause.description] },
            ]
        }
        let status = try await api.federated { () throws(FederationError) in try await federation.status() }
        let peers = status.map { p -> [String: Any] in
            [
                "party": p.party.code, "endpoint": p.endpoint, "queued": p.queued, "inFlight": p.inFlight, "delivered": p.delivered, "refused": p.refused,
                "lag": String(format: "%.1f s", p.lag), "lastSuccess": p.lastSuccess.map(Self.time) ?? "never", "lastError": p.lastError ?? false,
                "alarm": p.alarm ?? false,
            ]
        }
        let alarms = status.compactMap { p in p.alarm.map { ["party": p.party.code, "alarm": $0] } }
        return Page(
            title: "Dashboard",
            body: render(
                "dashboard",
                [
                    "agreements": agreements, "peers": peers, "alarms": alarms, "canAcknowledge": caller.user.roles.contains(.securityOfficer),
                    "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
                ]))
    }

    // MARK: Agreements

    /// One agreement: its state, its whole timeline, its lifecycle
    /// statements, and for security officers the form to issue one (Art 21).
    func agreementPage(_ caller: Caller, _ context: OperatorContext) async throws -> Page {
        let lifecycle = try api.agreement(context)
        let now = Date()
        let s = lifecycle.status(at: now)
        var deadlines: [String] = []
        if let d = s.nextNoticeDeadline { deadlines.append("notice deadline \(Self.day(d))") }
        if let d = s.nextAnniversary { deadlines.append("term renews \(Self.day(d))") }
        if let d = s.scheduledTermination { deadlines.append("terminates \(Self.day(d))") }
        let statements = lifecycle.accepted.reversed().map { st -> [String: Any] in
            let v = OperatorViews.StatementView(st)
            var details: [String] = []
            if let e = v.effective { details.append("effective \(Self.time(e))") }
            if let n = v.notice { details.append("notice \(n)") }
            if let c = v.condition { details.append("condition: \(c)") }
            if let p = v.proposal { details.append("proposal \(p)") }
            if let t = v.summary { details.append(t) }
            if let n = v.note { details.append("note: \(n)") }
            return ["id": v.id, "party": v.party, "act": v.act, "at": Self.time(v.at), "details": details.joined(separator: "; ")]
        }
        let tone = s.phase == .terminated ? "bad" : s.phase == .inForce ? "ok" : s.phase == .pending ? "info" : "warn"
        return Page(
            title: lifecycle.agreement.id,
            body: render(
                "agreement",
                [
                    "id": lifecycle.agreement.id, "title": lifecycle.agreement.title, "party": party.code,
                    "parties": lifecycle.agreement.partyCodes.map(\.code).joined(separator: ", "), "phase": s.phase.rawValue, "tone": tone,
                    "since": s.since.map(Self.day) ?? false, "deadlines": deadlines,
                    "events": lifecycle.events.filter { $0.at <= now }.reversed().map {
                        ["at": Self.day($0.at), "phase": $0.phase.rawValue, "cause": $0.cause.description]
                    },
                    "statements": statements, "acts": LifecycleStatement.Act.names,
                    "canIssue": caller.user.roles.contains(.securityOfficer),
                    "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
                ]))
    }

    func issueStatement(_ caller: Caller, _ form: [String: [String]], _ context: OperatorContext) async throws -> Response {
        let lifecycle = try api.agreement(context)
        func field(_ name: String) -> String? {
            form[name]?.first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        var effective: Date?
        if let text = field("effective") {
            guard let d = RFC3339.parse(text) else {
                throw OperatorError(.invalidInput, "effective \"\(text.prefix(40))\" is not an RFC 3339 instant with an offset, as 2026-12-31T00:00:00+09:00")
            }
            effective = d
        }
        let request = OperatorViews.StatementRequest(
            act: field("act") ?? "", effective: effective, notice: field("notice"), condition: field("condition"), proposal: field("proposal"),
            summary: field("summary"), note: field("note"))
        _ = try await api.statementAct(caller, agreement: lifecycle.agreement.id, request)
        return redirect("/agreements/\(lifecycle.agreement.id)")
    }

    // MARK: Consent requests

    /// The consent queue: requests received as originator, pending ones
    /// with their grant and deny forms for releasing officers; and the
    /// requests this node sent as holder, with their answers.
    func consentsPage(_ caller: Caller) async throws -> Page {
        let all = try await api.consentRequestsAct(caller, state: nil)
        let canAnswer = caller.user.roles.contains(.releasingOfficer)
        func row(_ r: ConsentRequestRecord) -> [String: Any] {
            let tone = r.state == .granted ? "ok" : r.state == .denied ? "bad" : "warn"
            return [
                "id": r.id, "holder": r.holder.code, "originator": r.originator.code, "thirdParty": r.thirdParty.code, "item": Hex.encode(r.itemID),
                "shortItem": String(Hex.encode(r.itemID).prefix(12)) + "…", "purpose": r.purpose ?? "not stated", "reason": r.reason, "at": Self.time(r.at),
                "state": r.state.rawValue, "tone": tone, "answer": r.answer ?? false, "pending": r.state == .pending && canAnswer,
            ]
        }
        return Page(
            title: "Consents",
            body: render(
                "consents",
                [
                    "received": all.filter { $0.direction == .received }.map(row), "sent": all.filter { $0.direction == .sent }.map(row),
                    "party": party.code, "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
                ]))
    }

    // MARK: Incidents

    func incidentsPage(_ caller: Caller, _ request: Request) async throws -> Page {
        let before = request.uri.queryParameters.get("before").flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
        let page = try await api.incidentsAct(caller, before: before, limit: 101)
        let shown = page.prefix(100)
        let rows = shown.map { i -> [String: Any] in
            [
                "at": Self.time(i.at), "incident": i.incident, "stage": i.stage, "tone": i.stage == "measures" ? "info" : "bad", "reporter": i.reporter,
                "received": i.received, "item": i.item, "shortItem": String(i.item.prefix(12)) + "…", "description": i.description,
            ]
        }
        let more: Any = page.count > 100 ? shown.last.map { "\($0.sequence)" } ?? false : false
        return Page(title: "Incidents", body: render("incidents", ["incidents": rows, "more": more]))
    }

    // MARK: Items

    func items(_ caller: Caller) async throws -> Page {
        let now = Date()
        // The newest 200 the caller may read, looking at 5000 holdings at most.
        var held: [LiaisonStore.Holding] = []
        var cursor: Int64?
        var scanned = 0
        while held.count < 200 && scanned < 5000 {
            let page = try await api.store { () throws(StoreError) in try await federation.store.holdings(before: cursor, limit: 500) }
            guard let last = page.last else { break }
            cursor = last.sequence
            scanned += page.count
            held += page.filter { api.mayRead(caller.reader, $0, at: now) }
        }
        held = Array(held.prefix(200))
        var levels: [Level] = []
        let heldRows = held.map { h -> [String: Any] in
            let level = localLevel(h)
            if let level { levels.append(level) }
            let v = api.view(h)
            return [
                "id": v.id, "shortID": String(v.id.prefix(12)) + "…", "marking": v.marking.local ?? v.marking.text, "colour": colour(level),
                "mediaType": v.mediaType, "size": v.size, "source": v.from.map { "\($0) under \(v.agreement ?? "")" } ?? "originated here",
                "purpose": h.label.purpose ?? "", "at": Self.time(v.at), "status": v.status,
            ]
        }
        // What was sent, for items the caller may read.
        let tasks = try await api.store { () throws(StoreError) in try await federation.store.outboxTasks(itemID: nil, before: nil, limit: 200) }
        let sentItems = try await api.store { () throws(StoreError) in try await federation.store.holdings(Array(Set(tasks.map(\.itemID)))) }
        let readable = Set(sentItems.filter { api.mayRead(caller.reader, $0, at: now) }.map(\.itemID))
        let sent = tasks.filter { readable.contains($0.itemID) }.map { t -> [String: Any] in
            let (state, tone, detail) = Self.delivery(t)
            let id = Hex.encode(t.itemID)
            return [
                "id": id, "shortID": String(id.prefix(12)) + "…", "peer": t.peer.code, "agreement": t.agreement, "link": t.linkSequence, "state": state,
                "tone": tone, "detail": detail ?? false,
            ]
        }
        return Page(title: "Items", body: render("items", ["held": heldRows, "heldCount": heldRows.count, "sent": sent]), levels: levels)
    }

    /// A task's delivery state as an operator reads it.
    static func delivery(_ t: OutboxTask) -> (state: String, tone: String, detail: String?) {
        switch t.state {
        case .pending: return ("queued", "info", t.lastError.map { "retrying: \($0)" })
        case .claimed: return ("sent, awaiting receipt", "info", nil)
        case .done: return ("delivered, proven", "ok", nil)
        case .refused: return ("refused", "bad", t.lastError)
        }
    }

    func item(_ caller: Caller, _ context: OperatorContext) async throws -> Page {
        let id = try api.itemID(context)
        let before = try await api.store { () throws(StoreError) in try await federation.store.size() }
        let (decision, item) = try await api.federated { () throws(FederationError) in try await federation.read(id, by: caller.reader) }
        if case .refused(let r) = decision {
            var page = refusalPage(OperatorError(.refused, Handlers.readerFacing(r), refusal: r), back: "/items", recorded: true)
            page.status = .forbidden
            return page
        }
        guard let item else { throw OperatorError(.notFound, "no item \(Hex.encode(id))") }
        let h = item.holding
        let v = api.view(h)
        let local = localLevel(h)
        var origin: Level?
        if h.label.originator == party {
            origin = local
        } else if case .received(_, let a) = h.source, let agreement = federation.book[a]?.agreement {
            origin = agreement.scheme(of: h.label.originator)?.level(h.label.level)
        }
        let provenance = try await api.federated { () throws(FederationError) in try await federation.provenance(of: item) }
        let deliveries = provenance.deliveries.map { d -> [String: Any] in
            var (state, tone, detail) = Self.delivery(d.task)
            switch d.proof {
            case .success(let p)?: detail = "receipt ✔ verified: entry \(p.entry) of \(d.task.peer)'s log of \(p.treeSize)"
            case .failure(let e)?:
                (tone, detail) = ("bad", "receipt ✘ does not verify: \(e.reason)")
            case nil: break
            }
            return [
                "peer": d.task.peer.code, "agreement": d.task.agreement, "link": d.task.linkSequence, "state": state, "tone": tone, "detail": detail ?? "",
                "consents": d.consents.map { ["id": $0.id, "originator": $0.originator.code, "thirdParty": $0.thirdParty.code, "expires": Self.day($0.expiresAt)] },
            ]
        }
        let reports = try await api.store { () throws(StoreError) in try await federation.store.holdingEvents(id) }.enumerated()
            .filter { $0.element.kind == .compromised }
            .map { Handlers.incident(ItemEvent(sequence: Int64($0.offset), itemID: id, event: $0.element), here: party) }
        let now = Date()
        let kept = try await api.store { () throws(StoreError) in try await federation.store.consents(itemDigest: h.digest) }.map { c -> [String: Any] in
            [
                "id": c.id, "originator": c.originator.code, "thirdParty": c.thirdParty.code, "expires": Self.day(c.expiresAt),
                "tone": c.expiresAt > now ? "ok" : "warn", "state": c.expiresAt > now ? "in force" : "expired",
            ]
        }
        let canRelease = caller.user.roles.contains(.releasingOfficer) && h.status == .held
        let peers = federation.book.lifecycles.values.flatMap { $0.agreement.partyCodes }.filter { $0 != party }
        let text = item.payload.flatMap { h.mediaType.hasPrefix("text/") ? String(validating: $0, as: UTF8.self) : nil }
        let object: [String: Any] = [
            "id": v.id, "party": party.code, "originator": h.label.originator.code,
            "originMarking": origin.map { "\($0.marking) (\($0.code))" } ?? h.label.level, "originColour": colour(local),
            "localMarking": local.map { "\($0.marking) (\($0.code))" } ?? "no equivalent", "colour": colour(local), "dual": v.marking.text,
            "releasableTo": h.label.releasableTo.sorted().map(\.code).joined(separator: ", "),
            "categories": h.label.categories.isEmpty
                ? "none" : h.label.categories.map { "\($0.tag) (\($0.kind.rawValue)): \($0.values.joined(separator: ", "))" }.joined(separator: "; "),
            "purpose": h.label.purpose ?? "not stated", "policy": h.label.policy, "source": v.from.map { "received from \($0) under \(v.agreement ?? "")" } ?? "originated here",
            "status": h.status.rawValue, "text": text ?? false, "mediaType": h.mediaType, "size": h.payloadSize, "readEntry": before,
            "sealOK": provenance.sealProblem == nil, "sealProblem": provenance.sealProblem ?? "", "deliveries": deliveries, "canRelease": canRelease,
            "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "", "peers": Array(Set(peers.map(\.code))).sorted(),
            "agreements": federation.book.lifecycles.values.filter { $0.agreement.isParty(party) }.map(\.agreement.id).sorted(),
            "canConsent": caller.user.roles.contains(.releasingOfficer) && h.label.originator == party && h.status == .held,
            "canReport": caller.user.roles.contains(.securityOfficer) && h.status != .destroyed, "purposeValue": h.label.purpose ?? "",
            "kept": kept,
            "canAsk": caller.user.roles.contains(.releasingOfficer) && h.label.originator != party && h.status == .held,
            "askable": Array(Set(peers.filter { $0 != h.label.originator }.map(\.code))).sorted(),
            "reports": reports.map { ["incident": $0.incident, "stage": $0.stage, "reporter": $0.reporter, "at": Self.time($0.at), "description": $0.description] },
            "ownIncidents": Array(Set(reports.filter { !$0.received }.map { $0.incident })).sorted(),
            "canReclassify": !caller.user.roles.isDisjoint(with: [.releasingOfficer, .securityOfficer]) && h.label.originator == party && h.status == .held,
            "canDestroy": caller.user.roles.contains(.securityOfficer) && h.status != .destroyed,
            "levels": accounts.scheme.levels.sorted { $0.rank > $1.rank }.filter { $0.code != h.label.level }.map { ["code": $0.code, "marking": $0.marking] },
        ]
        return Page(title: "Item \(v.id.prefix(12))", body: render("item", object), levels: local.map { [$0] } ?? [])
    }

    func release(_ caller: Caller, _ form: [String: [String]], _ context: OperatorContext) async throws -> Response {
        let id = try api.itemID(context)
        guard let peer = (form["to"]?.first).flatMap(Party.init), let agreement = form["agreement"]?.first else {
            throw OperatorError(.invalidInput, "choose a peer and an agreement")
        }
        _ = try await api.releaseAct(caller, id, to: peer, agreement: agreement)
        return redirect("/items/\(Hex.encode(id))")
    }

    // MARK: Users

    func usersPage(_ caller: Caller, error: String?) async throws -> Page {
        try api.require(caller, [.administrator, .securityOfficer, .auditor], to: "see users")
        let now = Date()
        let rows = try await accounts.users().map { u -> [String: Any] in
            [
                "name": u.name, "displayName": u.displayName, "roles": u.roles.sorted().map(\.rawValue).joined(separator: ", "),
                "clearance": u.clearance.map { c in "\(accounts.scheme.level(c.level)?.marking ?? c.level) until \(Self.day(c.expires))" } ?? "none",
                "categories": u.categories.isEmpty ? "none" : u.categories.sorted().joined(separator: ", "), "disabled": u.disabled,
                "locked": u.lockedUntil.flatMap { $0 > now ? Self.time($0) : nil } ?? false, "toggle": u.disabled ? "enable" : "disable",
                "toggleLabel": u.disabled ? "Enable" : "Disable",
            ]
        }
        let object: [String: Any] = [
            "users": rows, "canAdminister": caller.user.roles.contains(.administrator), "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
            "roles": Role.allCases.map(\.rawValue).sorted(), "error": error ?? false,
            "levels": accounts.scheme.levels.sorted { $0.rank > $1.rank }.map { ["code": $0.code, "marking": $0.marking] },
        ]
        return Page(title: "Users", body: render("users", object))
    }

    func addUser(_ caller: Caller, _ form: [String: [String]]) async throws -> Response {
        try api.require(caller, [.administrator], to: "add users")
        func again(_ error: String) async throws -> Response {
            var page = try await usersPage(caller, error: error)
            page.status = .badRequest
            return html(page, caller: caller, path: "/users")
        }
        let name = form["name"]?.first ?? ""
        var clearance: (String, Date)?
        if let level = form["clearance"]?.first, !level.isEmpty {
            guard let text = form["expires"]?.first, let expires = RFC3339.parse(text + "T00:00:00Z") else {
                return try await again("a clearance needs its expiry as YYYY-MM-DD")
            }
            clearance = (level, expires)
        }
        let roles: Set<Role>
        do { roles = try Accounts.roles(form["role"] ?? []) } catch { return try await again(error.reason) }
        let categories = Set((form["categories"]?.first ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        let password = form["password"]?.first ?? ""
        do {
            try await accounts.add(
                name, .init(displayName: form["display"]?.first.flatMap { $0.isEmpty ? nil : $0 } ?? name, roles: roles, clearance: clearance, categories: categories),
                password: password.isEmpty ? nil : password, by: caller.user.name)
        } catch { return try await again(error.reason) }
        return redirect("/users")
    }

    func setDisabled(_ caller: Caller, _ context: OperatorContext, _ disabled: Bool) async throws -> Response {
        try api.require(caller, [.administrator], to: "disable or enable users")
        let name = context.parameters.get("name") ?? ""
        guard name != caller.user.name || !disabled else { throw OperatorError(.conflict, "an administrator does not disable their own account") }
        try await accounts.setDisabled(name, disabled, by: caller.user.name)
        return redirect("/users")
    }

    // MARK: Officers' acts

    func consent(_ caller: Caller, _ form: [String: [String]], _ context: OperatorContext) async throws -> Response {
        let id = try api.itemID(context)
        guard let holder = (form["holder"]?.first).flatMap(Party.init), let third = (form["third"]?.first).flatMap(Party.init) else {
            throw OperatorError(.invalidInput, "choose the holder and the third party")
        }
        guard let days = (form["days"]?.first).flatMap({ Int($0) }) else { throw OperatorError(.invalidInput, "a consent lasts a number of days") }
        let purpose = (form["purpose"]?.first).flatMap { $0.isEmpty ? nil : $0 }
        _ = try await api.consentAct(caller, id, holder: holder, thirdParty: third, purpose: purpose, days: days)
        return redirect("/items/\(Hex.encode(id))")
    }

    func compromise(_ caller: Caller, _ form: [String: [String]], _ context: OperatorContext) async throws -> Response {
        let id = try api.itemID(context)
        let incident = form["incident"]?.first.flatMap { $0.isEmpty ? nil : $0 }
        _ = try await api.compromiseAct(caller, id, stage: form["stage"]?.first ?? "", description: form["description"]?.first ?? "", incident: incident)
        return redirect("/items/\(Hex.encode(id))")
    }

    func acknowledge(_ caller: Caller, _ context: OperatorContext) async throws -> Response {
        try await api.acknowledgeAct(caller, context.parameters.get("party"))
        return redirect("/")
    }

    // MARK: Compose

    func composePage(_ caller: Caller, form: [String: [String]], check: (refused: Bool, article: String, reason: String)?, error: String?) async throws
        -> Page
    {
        let level = form["level"]?.first ?? accounts.scheme.levels.sorted { $0.rank < $1.rank }.first?.code ?? ""
        let rel = Set(form["rel"] ?? [])
        let parties = Set(federation.book.lifecycles.values.flatMap { $0.agreement.partyCodes }).subtracting([party]).sorted()
        let to = form["to"]?.first ?? ""
        let agreementIDs = federation.book.lifecycles.values.filter { $0.agreement.isParty(party) }.map(\.agreement.id).sorted()
        let chosen = form["agreement"]?.first
        let object: [String: Any] = [
            "party": party.code, "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "", "error": error ?? false,
            "levels": accounts.scheme.levels.sorted { $0.rank > $1.rank }.map { ["code": $0.code, "marking": $0.marking, "selected": $0.code == level] },
            "parties": parties.map { ["code": $0.code, "checked": rel.contains($0.code)] }, "purpose": form["purpose"]?.first ?? "",
            "categories": form["categories"]?.first ?? "", "content": form["content"]?.first ?? "",
            "peers": parties.map { ["code": $0.code, "selected": $0.code == to] },
            "agreements": agreementIDs.map { ["id": $0, "selected": $0 == chosen] },
            "check": check.map { ["refused": $0.refused, "article": $0.article, "reason": $0.reason] as [String: Any] } ?? false,
            "canRelease": caller.user.roles.contains(.releasingOfficer),
        ]
        let levels = form["content"].map { _ in accounts.scheme.level(level).map { [$0] } ?? [] } ?? []
        return Page(title: "Compose", body: render("compose", object), levels: levels)
    }

    func compose(_ caller: Caller, _ form: [String: [String]]) async throws -> Response {
        func again(_ check: (Bool, String, String)?, _ error: String?) async throws -> Response {
            html(try await composePage(caller, form: form, check: check, error: error), caller: caller, path: "/compose")
        }
        let categories = (form["categories"]?.first ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var tags: [String: [String]] = [:]
        for c in categories {
            let parts = c.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return try await again(nil, "category \(c) must be TAG:VALUE") }
            tags[String(parts[0]), default: []].append(String(parts[1]))
        }
        let labelView = OperatorViews.Label(
            policy: nil, originator: nil, level: form["level"]?.first ?? "", releasableTo: form["rel"] ?? [],
            categories: tags.sorted { $0.key < $1.key }.map { .init(tag: $0.key, kind: "RESTRICTIVE", values: $0.value) },
            purpose: (form["purpose"]?.first).flatMap { $0.isEmpty ? nil : $0 }, created: nil, review: nil)
        let label: SecurityLabel
        do { label = try api.label(labelView) } catch { return try await again(nil, error.reason) }
        let to = (form["to"]?.first).flatMap { $0.isEmpty ? nil : Party($0) }
        let agreement = form["agreement"]?.first ?? ""
        // The release check, shown before anything is sealed or sent.
        var check: (Bool, String, String)?
        if let to {
            let request = ReleaseRequest(
                item: ItemFacts(digest: "", label: label), holder: party, recipient: to, agreement: agreement, instant: Date(), consents: [])
            switch ReleasePolicy.evaluate(request, book: federation.book) {
            case .permitted: check = (false, "", "\(to) may receive it under \(agreement) now")
            case .refused(let r): check = (true, r.article.citation, r.reason)
            }
        }
        if form["action"]?.first != "send" { return try await again(check ?? (false, "", "kept at this node; nothing to check"), nil) }
        try api.require(caller, [.analyst, .releasingOfficer, .securityOfficer], to: "create items")
        if let check, check.0 { return try await again(check, "not sent: the release check refuses it") }
        if to != nil { try api.require(caller, [.releasingOfficer], to: "release items") }
        let content = Array((form["content"]?.first ?? "").utf8)
        guard !content.isEmpty else { return try await again(check, "the content is empty") }
        if case .refused(let r) = AccessPolicy.evaluate(
            AccessRequest(
                reader: caller.reader, item: ItemFacts(digest: "", label: label), node: party, localScheme: accounts.scheme, agreement: nil,
                instant: Date()))
        {
            return try await again(check, "\(r.article): \(r.reason) — an author must be able to read the item")
        }
        let sealed = try await api.federated { () throws(FederationError) in try await federation.originate([(label, "text/plain", content)]) }
        let id = sealed[0].manifest.itemID
        if let to {
            _ = try await api.federated { () throws(FederationError) in try await federation.release(itemID: id, to: to, agreement: agreement) }
        }
        return redirect("/items/\(Hex.encode(id))")
    }

    // MARK: Ledger

    func ledger(_ caller: Caller, verified: (tone: String, verdict: String, detail: String)?) async throws -> Page {
        let bytes = try await api.federated { () throws(FederationError) in try await federation.latestTreeHead() }
        let head = try SignedTreeHead(canonical: bytes).body
        let peers = try await api.store { () throws(StoreError) in try await federation.store.peers() }.map { p -> [String: Any] in
            ["party": p.party.code, "size": p.treeSize.map(String.init) ?? "none yet", "at": p.treeHeadAt.map(Self.time) ?? "never", "alarm": p.alarm ?? false]
        }
        let object: [String: Any] = [
            "size": head.size, "root": Hex.encode(head.root), "at": Self.time(head.at), "peers": peers,
            "csrf": caller.session.map { Accounts.csrfToken(session: $0) } ?? "",
            "verified": verified.map { ["tone": $0.tone, "verdict": $0.verdict, "detail": $0.detail] } ?? false,
        ]
        return Page(title: "Ledger", body: render("ledger", object))
    }

    func verifyLedger(_ caller: Caller) async throws -> Response {
        let v = try await api.store { () throws(StoreError) in try await federation.store.verify(trust: ledgerTrust) }
        let verdict =
            v.isIntact
            ? ("ok", "✔ intact", "\(v.size) entries re-derived; every signed head verifies with this node's pinned key")
            : ("bad", "✘ damaged", v.problems.prefix(5).map { "\($0)" }.joined(separator: "; "))
        return html(try await ledger(caller, verified: verdict), caller: caller, path: "/ledger")
    }

    // MARK: Refusals

    func refusalPage(_ e: OperatorError, back: String, recorded: Bool = false) -> Page {
        var page = Page(
            title: "Refused",
            body: render(
                "refusal",
                ["article": e.refusal.map { "\($0.article.citation)" } ?? false, "reason": e.reason, "back": back, "recorded": recorded || e.refusal != nil]))
        page.status = e.status
        return page
    }

    static func day(_ d: Date) -> String { String(RFC3339.format(d).prefix(10)) }
    static func time(_ d: Date) -> String { RFC3339.format(d).replacingOccurrences(of: "T", with: " ") }
}
