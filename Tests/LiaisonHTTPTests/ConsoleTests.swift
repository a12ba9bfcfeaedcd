import AsyncHTTPClient
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonHTTP
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import NIOCore
import NIOHTTP1
import Testing

/// The web console over HTTPS, as a browser without scripts uses it: forms,
/// cookies, redirects, escaped text and the banner.
@Suite("Web console", .serialized) struct ConsoleTests {
    /// Logs in through the form; returns the session cookie and the page's CSRF token.
    static func login(_ c: OperatorClient, _ name: String) async throws -> (cookie: String, csrf: String) {
        let r = try await c.form("/login", ["name": name, "password": OperatorAPITests.password])
        #expect(r.status == 303)
        let cookie = try #require(r.cookies.first { $0.hasPrefix(c.cookieName + "=") })
        let value = String(cookie.split(separator: ";")[0].dropFirst(c.cookieName.count + 1))
        let page = try await c.send("GET", "/compose", cookie: value)
        let csrf = try #require(Self.field("csrf", in: page.text))
        return (value, csrf)
    }

    static func field(_ name: String, in html: String) -> String? {
        guard let r = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func composeSendAndReadWithBannersEscapingAndRefusals() async throws {
        let (net, clients) = try await OperatorAPITests.start()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        // Not logged in: every page leads to the login form.
        let anonymous = try await kor.send("GET", "/items")
        #expect(anonymous.status == 303)
        #expect(anonymous.location == "/login?next=%2Fitems")
        let form = try await kor.send("GET", anonymous.location!)
        #expect(form.text.contains("action=\"/login?next=/items\""))
        let wrong = try await kor.form("/login", ["name": "kim", "password": "not the password"])
        #expect(wrong.status == 401)
        #expect(wrong.text.contains("the name or the password is wrong"))
        // After login, only this site's paths are followed.
        for next in ["//evil.example/", "/%09/evil.example", "https://evil.example/", "/%5Cevil.example"] {
            let offsite = try await kor.form("/login?next=\(next)", ["name": "kim", "password": OperatorAPITests.password])
            #expect(offsite.location == "/", "\(next)")
        }
        // A login form posted from another site is refused.
        let crossSite = try await kor.form("/login", ["name": "kim", "password": OperatorAPITests.password], origin: "https://evil.example")
        #expect(crossSite.status == 403)
        #expect(crossSite.cookies.isEmpty)

        let lee = try await Self.login(kor, "lee")
        let dashboard = try await kor.send("GET", "/", cookie: lee.cookie)
        #expect(dashboard.text.contains("gsomia-kor-jpn-2016"))
        #expect(dashboard.text.contains("UNCLASSIFIED — no classified information on this page"))
        #expect(dashboard.headers["Content-Security-Policy"]?.contains("default-src 'none'") == true)

        let fields: [String: String] = [
            "csrf": lee.csrf, "level": "II", "rel": "JPN", "purpose": "<b>dprk</b>", "categories": "PROJECT:EAST-SEA",
            "content": "<script>alert(1)</script> launch assessment", "to": "JPN", "agreement": "gsomia-kor-jpn-2016",
        ]
        // Without the CSRF token nothing is sealed.
        var forged = fields
        forged["csrf"] = "x"
        let refusedForm = try await kor.form("/compose", forged.merging(["action": "send"]) { a, _ in a }, cookie: lee.cookie)
        #expect(refusedForm.status == 403)
        #expect(try await net[.kor].store.holdings(after: nil, limit: 5).isEmpty)
        // The release check is shown before sending; a release the label does not allow is refused with its article.
        let toUSA = try await kor.form(
            "/compose", fields.merging(["to": "USA", "agreement": "gsomia-kor-usa-1987", "action": "check"]) { _, b in b }, cookie: lee.cookie)
        #expect(toUSA.text.contains("id=\"check\""))
        #expect(toUSA.text.contains("refused"))
        #expect(try await net[.kor].store.holdings(after: nil, limit: 5).isEmpty)
        let checked = try await kor.form("/compose", fields.merging(["action": "check"]) { a, _ in a }, cookie: lee.cookie)
        #expect(checked.text.contains("permitted"))
        let sent = try await kor.form("/compose", fields.merging(["action": "send"]) { a, _ in a }, cookie: lee.cookie)
        #expect(sent.status == 303, "\(sent.text)")
        let itemPath = try #require(sent.location)
        let page = try await kor.send("GET", itemPath, cookie: lee.cookie)
        #expect(page.status == 200)
        // Text is escaped, never markup.
        #expect(!page.text.contains("<script>alert(1)</script>"))
        #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.text.contains("<b>dprk</b>"))
        // The banner at top and bottom carries the item's marking, in the colour of its level.
        #expect(page.text.components(separatedBy: "highest marking on this page").count == 3)
        #expect(page.text.contains("background:#c8102e"))
        #expect(page.text.contains("✔ verified"))

        // It arrives at JPN; sato reads it there, marked both ways.
        let sato = try await Self.login(jpn, "sato")
        var there: OperatorClient.Reply?
        for _ in 0..<300 {
            let r = try await jpn.send("GET", itemPath, cookie: sato.cookie)
            if r.status == 200 {
                there = r
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let jpnPage = try #require(there)
        #expect(jpnPage.text.contains("received from KOR under gsomia-kor-jpn-2016"))
        #expect(jpnPage.text.contains("(GOKUHI)"))
        // The sender's page now shows the receipt verified.
        var proven = false
        for _ in 0..<100 {
            if try await kor.send("GET", itemPath, cookie: lee.cookie).text.contains("receipt ✔ verified") {
                proven = true
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(proven)

        // The originator's releasing officer consents from the item page; JPN's node records it.
        #expect(try await kor.send("GET", itemPath, cookie: lee.cookie).text.contains("Sign and send the consent"))
        let consented = try await kor.form(
            itemPath + "/consent", ["csrf": lee.csrf, "holder": "JPN", "third": "USA", "days": "3", "purpose": "dprk-nuclear-missile"], cookie: lee.cookie)
        #expect(consented.status == 303 && consented.location == itemPath, "\(consented.text)")
        var recorded = false
        for _ in 0..<200 {
            let size = try await net[.jpn].store.size()
            if try await (max(0, size - 10)..<size).asyncMap({ try await net[.jpn].store.entry(at: $0) }).contains(where: { $0.kind == .consentGiven }) {
                recorded = true
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(recorded)
        // An analyst's page offers neither consent nor compromise report.
        let analystPage = try await kor.send("GET", itemPath, cookie: (try await Self.login(kor, "kim")).cookie)
        #expect(!analystPage.text.contains("Sign and send the consent") && !analystPage.text.contains("Report loss or compromise"))

        // park may not read it: a refusal page naming the article, recorded.
        let park = try await Self.login(kor, "park")
        let size = try await net[.kor].store.size()
        let refused = try await kor.send("GET", itemPath, cookie: park.cookie)
        #expect(refused.status == 403)
        #expect(refused.text.contains("id=\"refusal\""))
        #expect(refused.text.contains(Article.access.citation))
        #expect(try await net[.kor].store.entry(at: size).kind == .accessRefused)
        let items = try await kor.send("GET", "/items", cookie: park.cookie)
        #expect(items.text.contains("Nothing you may read is held here."))

        // The refused reader is not told the item's level or categories.
        #expect(!refused.text.contains("EAST-SEA"))
        // A form from another site is refused even with the right CSRF token.
        let crossSite2 = try await kor.form("/ledger/verify", ["csrf": lee.csrf], cookie: lee.cookie, origin: "https://evil.example")
        #expect(crossSite2.status == 403)
        // Administrators manage users from the console while the node runs.
        let admin = try await Self.login(kor, "admin")
        let usersPage = try await kor.send("GET", "/users", cookie: admin.cookie)
        #expect(usersPage.status == 200 && usersPage.text.contains("<b>kim</b>"))
        #expect(try await kor.send("GET", "/users", cookie: park.cookie).status == 403)
        let badUser = try await kor.form(
            "/users", ["csrf": admin.csrf, "name": "yoon", "role": "analyst", "clearance": "GOKUHI", "expires": "2030-01-01"], cookie: admin.cookie)
        #expect(badUser.status == 400 && badUser.text.contains("not a level of KOR"))
        let added = try await kor.form(
            "/users",
            ["csrf": admin.csrf, "name": "yoon", "display": "Yoon", "role": "analyst", "clearance": "III", "expires": "2030-01-01",
             "password": "a long enough password"], cookie: admin.cookie)
        #expect(added.status == 303)
        #expect(try await net[.kor].store.user("yoon").clearance?.level == "III")
        let parkSession = park.cookie
        #expect(try await kor.form("/users/park/disable", ["csrf": admin.csrf], cookie: admin.cookie).status == 303)
        #expect(try await kor.send("GET", "/items", cookie: parkSession).status == 303, "a disabled user's session ends at once")
        #expect(try await kor.form("/users/admin/disable", ["csrf": admin.csrf], cookie: admin.cookie).status == 409)

        // The ledger page verifies the whole ledger.
        let verified = try await kor.form("/ledger/verify", ["csrf": lee.csrf], cookie: lee.cookie)
        #expect(verified.text.contains("✔ intact"))
        await OperatorAPITests.stop(net, clients)
    }

    /// An agreement's page: its timeline and statements for everyone, and
    /// the form to issue a statement for security officers only; a
    /// statement the rules refuse names its article and records nothing.
    @Test func securityOfficersIssueLifecycleStatementsFromTheAgreementPage() async throws {
        let (net, clients) = try await OperatorAPITests.start()
        let kor = clients[.kor]!
        try await net[.kor].accounts.add(
            "choi", .init(displayName: "Choi", roles: [.securityOfficer], clearance: ("II", Date().addingTimeInterval(86_400)), categories: []),
            password: OperatorAPITests.password, by: "test")
        let kim = try await Self.login(kor, "kim"), choi = try await Self.login(kor, "choi")
        let path = "/agreements/gsomia-kor-jpn-2016"
        #expect(try await kor.send("GET", "/", cookie: kim.cookie).text.contains("href=\"\(path)\""))
        let asAnalyst = try await kor.send("GET", path, cookie: kim.cookie)
        #expect(asAnalyst.status == 200 && asAnalyst.text.contains("kor-suspension-2019") && asAnalyst.text.contains("notice-suspended"))
        #expect(!asAnalyst.text.contains("id=\"issue\""), "no form for an analyst")
        #expect(try await kor.form(path + "/statements", ["csrf": kim.csrf, "act": "notice-withdrawal", "notice": "kor-notice-2019"], cookie: kim.cookie).status == 403)
        #expect(try await kor.send("GET", "/agreements/gsomia-jpn-usa-2007", cookie: kim.cookie).status == 404)
        let asOfficer = try await kor.send("GET", path, cookie: choi.cookie)
        #expect(asOfficer.text.contains("id=\"issue\""))
        let badInstant = try await kor.form(
            path + "/statements", ["csrf": choi.csrf, "act": "termination-notice", "effective": "next spring"], cookie: choi.cookie)
        #expect(badInstant.status == 400 && badInstant.text.contains("not an RFC 3339 instant"))
        let ruled = try await kor.form(path + "/statements", ["csrf": choi.csrf, "act": "suspension-lifted", "notice": "jpn-notice-2031"], cookie: choi.cookie)
        #expect(ruled.status == 403 && ruled.text.contains("id=\"refusal\"") && ruled.text.contains("Art 21"), "\(ruled.text.suffix(600))")
        #expect(net[.kor].federation.book["gsomia-kor-jpn-2016"]?.accepted.count == 4, "nothing recorded")
        let issued = try await kor.form(
            path + "/statements", ["csrf": choi.csrf, "act": "notice-withdrawal", "notice": "kor-notice-2019", "note": "<b>normalised</b>", "effective": ""],
            cookie: choi.cookie)
        #expect(issued.status == 303 && issued.location == path)
        let page = try await kor.send("GET", path, cookie: kim.cookie)
        #expect(page.text.contains("notice-withdrawal") && page.text.contains("note: &lt;b&gt;normalised&lt;/b&gt;"))
        #expect(page.text.contains("id=\"phase\">in-force<"))
        await OperatorAPITests.stop(net, clients)
    }

    /// Incidents from the console: reported on the item page, moved on with
    /// the incident chosen there, and listed (escaped) on the incidents page
    /// of both nodes; only security officers and auditors see the list.
    @Test func incidentsAreReportedFromTheItemPageAndListed() async throws {
        let (net, clients) = try await OperatorAPITests.start()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let kim = try await kor.login("kim", OperatorAPITests.password), lee = try await kor.login("lee", OperatorAPITests.password)
        let created = try await kor.send("POST", "/api/v1/items", json: OperatorAPITests.newItem, cookie: kim.cookie, csrf: kim.csrf)
        let id = try #require(created.object["id"] as? String)
        let itemID = try #require(Hex.decode(id))
        let release: [String: Any] = ["to": "JPN", "agreement": "gsomia-kor-jpn-2016"]
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: lee.cookie, csrf: lee.csrf).status == 202)
        #expect(try await OperatorAPITests.eventually { (try? await net[.jpn].store.item(itemID)) != nil })
        for (p, name, level) in [(Party.jpn, "mori", "KIMITSU"), (.kor, "choi", "II")] {
            try await net[p].accounts.add(
                name, .init(displayName: name, roles: [.securityOfficer], clearance: (level, Date().addingTimeInterval(86_400)), categories: ["PROJECT:EAST-SEA"]),
                password: OperatorAPITests.password, by: "test")
        }
        let mori = try await Self.login(jpn, "mori"), sato = try await Self.login(jpn, "sato"), choi = try await Self.login(kor, "choi")
        let itemPath = "/items/\(id)"
        let reported = try await jpn.form(
            itemPath + "/compromise", ["csrf": mori.csrf, "incident": "", "stage": "suspected", "description": "<i>laptop</i> lost"], cookie: mori.cookie)
        #expect(reported.status == 303)
        let page = try await jpn.send("GET", itemPath, cookie: mori.cookie)
        let incident = try #require(page.text.range(of: "jpn-incident-").map { String(page.text[$0.lowerBound...].prefix(21)) })
        #expect(page.text.contains("<option>\(incident)</option>") && page.text.contains("&lt;i&gt;laptop&lt;/i&gt; lost"))
        let moved = try await jpn.form(
            itemPath + "/compromise", ["csrf": mori.csrf, "incident": incident, "stage": "measures", "description": "keys rotated"], cookie: mori.cookie)
        #expect(moved.status == 303)
        let backwards = try await jpn.form(
            itemPath + "/compromise", ["csrf": mori.csrf, "incident": incident, "stage": "findings", "description": "x"], cookie: mori.cookie)
        #expect(backwards.status == 409 && backwards.text.contains("later stage"))
        let list = try await jpn.send("GET", "/incidents", cookie: mori.cookie)
        #expect(list.status == 200 && list.text.contains("href=\"/incidents\"") && list.text.contains(">measures<") && list.text.contains(">suspected<"))
        #expect(!list.text.contains("<i>laptop"))
        let refused = try await jpn.send("GET", "/incidents", cookie: sato.cookie)
        #expect(refused.status == 403 && !refused.text.contains("href=\"/incidents\""))
        #expect(
            try await OperatorAPITests.eventually { try await kor.send("GET", "/incidents", cookie: choi.cookie).text.contains("keys rotated") },
            "KOR lists the reports it received")
        #expect(try await kor.send("GET", "/incidents", cookie: choi.cookie).text.contains("(received)"))
        await OperatorAPITests.stop(net, clients)
    }

    /// The consent queue from the console: KOR's releasing officer asks from
    /// the item page; JPN's grants from its queue, with a refusal for bad
    /// input; KOR's page shows the answer.
    @Test func consentsAreAskedFromTheItemPageAndAnsweredFromTheQueue() async throws {
        let (net, clients, id) = try await OperatorAPITests.startWithJPNItemAtKOR()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let lee = try await Self.login(kor, "lee"), ito = try await Self.login(jpn, "ito")
        let page = try await kor.send("GET", "/items/\(id)", cookie: lee.cookie)
        let askForm = try #require(page.text.range(of: "id=\"ask\"").map { String(page.text[$0.lowerBound...].prefix(700)) })
        #expect(askForm.contains("<option>USA</option>") && !askForm.contains("<option>JPN</option>"), "\(askForm)")
        #expect(!(try await jpn.send("GET", "/items/\(id)", cookie: ito.cookie)).text.contains("id=\"ask\""), "the originator does not ask")
        let asked = try await kor.form("/items/\(id)/consent-request", ["csrf": lee.csrf, "third": "USA", "purpose": "", "reason": "<i>hub</i> needs it"], cookie: lee.cookie)
        #expect(asked.status == 303 && asked.location == "/consents")
        let sent = try await kor.send("GET", "/consents", cookie: lee.cookie)
        #expect(sent.text.contains(">pending<") && sent.text.contains("href=\"/consents\""))
        let requestID = try #require(sent.text.range(of: "kor-consent-request-").map { String(sent.text[$0.lowerBound...].prefix(28)) })
        #expect(try await OperatorAPITests.eventually { (try? await net[.jpn].store.consentRequest(requestID)) != nil })
        let queue = try await jpn.send("GET", "/consents", cookie: ito.cookie)
        #expect(queue.text.contains("action=\"/consents/\(requestID)/grant\"") && queue.text.contains("&lt;i&gt;hub&lt;/i&gt; needs it"))
        let badDays = try await jpn.form("/consents/\(requestID)/grant", ["csrf": ito.csrf, "days": "soon"], cookie: ito.cookie)
        #expect(badDays.status == 400 && badDays.text.contains("whole number of days"))
        #expect(try await jpn.form("/consents/\(requestID)/grant", ["csrf": ito.csrf, "days": "14"], cookie: ito.cookie).status == 303)
        #expect(try await jpn.form("/consents/\(requestID)/deny", ["csrf": ito.csrf, "reason": "late"], cookie: ito.cookie).status == 409)
        #expect(try await OperatorAPITests.eventually { try await kor.send("GET", "/consents", cookie: lee.cookie).text.contains(">granted<") })
        await OperatorAPITests.stop(net, clients)
    }
}

extension OperatorClient {
    func form(_ path: String, _ fields: [String: String], cookie: String? = nil, origin: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        let body = fields.map { k, v in
            "\(k.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        }.joined(separator: "&")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: body))
        if let cookie { request.headers.add(name: "Cookie", value: "\(cookieName)=\(cookie)") }
        if let origin { request.headers.add(name: "Origin", value: origin) }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(
            status: response.status.code, contentType: response.headers.first(name: "Content-Type"), body: Array(buffer: bytes),
            cookies: response.headers["Set-Cookie"], headers: Dictionary(response.headers.map { ($0.name, $0.value) }) { a, _ in a })
    }
}
