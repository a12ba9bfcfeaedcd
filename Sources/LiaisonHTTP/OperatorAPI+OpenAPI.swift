internal import Foundation
public import LiaisonModel

extension OperatorAPI {
    /// The OpenAPI 3.1 document of the operator API, served at `/openapi.json`.
    /// Built here from one table of routes so that every route, its body,
    /// its answers and its errors are described the same way.
    /// The document for one node: its levels, peers and agreements are the values its inputs take.
    public static func openAPIDocument(_ party: Party, levels: [String], parties: [String], agreements: [String]) -> String {
        let node = OpenAPI.Node(party: party, levels: levels, parties: parties, agreements: agreements)
        let data = try! JSONSerialization.data(withJSONObject: OpenAPI.document(node), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

enum OpenAPI {
    struct Node {
        let party: Party, levels: [String], parties: [String], agreements: [String]
    }

    struct Route {
        let method: String, path: String, summary: String, operationID: String
        var body: String? = nil
        var success: (status: Int, schema: Any?)
        var errors: [Int]
        var parameters: [[String: Any]] = []
        var authenticated = true
        var changing: Bool { method != "get" }
    }

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func array(_ items: Any) -> [String: Any] { ["type": "array", "items": items] }
    static var string: [String: Any] { ["type": "string"] }
    static var instant: [String: Any] { ["type": "string", "format": "date-time"] }
    static func nullable(_ s: [String: Any]) -> [String: Any] {
        var s = s
        if let t = s["type"] as? String { s["type"] = [t, "null"] }
        return s
    }
    static func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
        ["type": "object", "properties": properties, "required": required, "additionalProperties": false]
    }

    static var requestID: [String: Any] {
        ["name": "request", "in": "path", "required": true, "description": "The consent request's id.", "schema": ["type": "string", "minLength": 1, "maxLength": 200]]
    }

    static var agreementID: [String: Any] {
        [
            "name": "agreement", "in": "path", "required": true, "description": "The agreement id, as gsomia-kor-jpn-2016.",
            "schema": ["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"],
        ]
    }

    static var itemID: [String: Any] {
        [
            "name": "id", "in": "path", "required": true, "description": "The item id, 32 hexadecimal digits.",
            "schema": ["type": "string", "pattern": "^[0-9a-fA-F]{32}$"],
        ]
    }

    static var routes: [Route] {
        [
        Route(
            method: "post", path: "/api/v1/session", summary: "Log in with a password; sets the session cookie", operationID: "login", body: "Login",
            success: (201, ref("Session")), errors: [400, 401, 413, 429], authenticated: false),
        Route(method: "delete", path: "/api/v1/session", summary: "Log out", operationID: "logout", success: (204, nil), errors: [401, 403]),
        Route(method: "get", path: "/api/v1/me", summary: "The caller", operationID: "me", success: (200, ref("User")), errors: [401]),
        Route(
            method: "post", path: "/api/v1/tokens", summary: "Issue an API token to the caller (shown once)", operationID: "issueToken", body: "NewToken",
            success: (201, ref("Token")), errors: [400, 401, 403, 413]),
        Route(
            method: "get", path: "/api/v1/users", summary: "Users of this node (administrators, security officers, auditors)", operationID: "listUsers",
            success: (200, array(ref("User"))), errors: [401, 403]),
        Route(
            method: "post", path: "/api/v1/users", summary: "Add a user (administrators)", operationID: "addUser", body: "NewUser",
            success: (201, ref("User")), errors: [400, 401, 403, 404, 409, 413]),
        Route(
            method: "patch", path: "/api/v1/users/{name}", summary: "Change what a user holds, disable or enable, set a password (administrators)",
            operationID: "changeUser", body: "UserChange", success: (200, ref("User")), errors: [400, 401, 403, 404, 413],
            parameters: [["name": "name", "in": "path", "required": true, "schema": ["type": "string"]]]),
        Route(
            method: "get", path: "/api/v1/items", summary: "The items the caller may read (Art 7), oldest first, a page at a time", operationID: "listItems",
            success: (200, ref("ItemList")), errors: [400, 401],
            parameters: [
                ["name": "after", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 0], "description": "The `next` of the previous page."],
                ["name": "limit", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 500, "default": 50]],
            ]),
        Route(
            method: "post", path: "/api/v1/items", summary: "Originate an item at this node: labelled, sealed, stored", operationID: "createItem",
            body: "NewItem", success: (201, ref("Item")), errors: [400, 401, 403, 409, 413]),
        Route(
            method: "get", path: "/api/v1/items/{id}", summary: "Read an item: the access policy decides; the read or the refusal is in the ledger",
            operationID: "readItem", success: (200, ref("ItemContent")), errors: [400, 401, 403, 404], parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/items/{id}/releases", summary: "Release an item to a peer under an agreement (releasing officers)",
            operationID: "releaseItem", body: "ReleaseRequest", success: (202, ref("Release")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/items/{id}/consents",
            summary: "The originator's consent for a holder to pass this node's item to a third party (Art 6(a); releasing officers)",
            operationID: "grantConsent", body: "ConsentRequest", success: (201, ref("Consent")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/items/{id}/compromise",
            summary: "Report the loss or compromise of a held item; the originator is told at once (Art 17; security officers)",
            operationID: "reportCompromise", body: "CompromiseRequest", success: (201, ref("Statements")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/items/{id}/consent-requests",
            summary: "A holder asks the originator to consent to passing the item to a third party (Art 6(a); releasing officers)",
            operationID: "requestConsent", body: "NewConsentRequest", success: (201, ref("ConsentRequestStatus")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [itemID]),
        Route(
            method: "get", path: "/api/v1/consent-requests",
            summary: "Consent requests sent as holder and received as originator, newest first (releasing officers and auditors)",
            operationID: "listConsentRequests", success: (200, array(ref("ConsentRequestStatus"))), errors: [400, 401, 403],
            parameters: [["name": "state", "in": "query", "required": false, "schema": ["type": "string", "enum": ["pending", "granted", "denied"]]]]),
        Route(
            method: "post", path: "/api/v1/consent-requests/{request}/grant",
            summary: "The originator grants a request received here: its consent is signed and sent to the holder (Art 6(a); releasing officers)",
            operationID: "grantConsentRequest", body: "GrantRequest", success: (201, ref("ConsentRequestStatus")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [requestID]),
        Route(
            method: "post", path: "/api/v1/consent-requests/{request}/deny",
            summary: "The originator denies a request received here; the signed denial goes to the holder (Art 6(a); releasing officers)",
            operationID: "denyConsentRequest", body: "DenyRequest", success: (200, ref("ConsentRequestStatus")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [requestID]),
        Route(
            method: "get", path: "/api/v1/incidents",
            summary: "Loss and compromise reports, newest first: made here, or received as originator (Art 17; security officers and auditors)",
            operationID: "listIncidents", success: (200, array(ref("Incident"))), errors: [400, 401, 403],
            parameters: [
                ["name": "before", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1]],
                ["name": "limit", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 1, "maximum": 1000]],
            ]),
        Route(
            method: "post", path: "/api/v1/items/{id}/reclassify",
            summary: "The originator reclassifies its item; every holder is told and re-marks (Art 6(g); releasing and security officers)",
            operationID: "reclassifyItem", body: "ReclassifyRequest", success: (201, ref("Statements")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/items/{id}/destroy",
            summary: "Destroy a held item; the originator receives the signed certificate (Art 6(h), 13; security officers)", operationID: "destroyItem",
            body: "DestroyRequest", success: (201, ref("Statements")), errors: [400, 401, 403, 404, 409, 413], parameters: [itemID]),
        Route(
            method: "post", path: "/api/v1/peers/{party}/acknowledge", summary: "Acknowledge a peer's alarm: exchange resumes (security officers)",
            operationID: "acknowledgeAlarm", success: (204, nil), errors: [400, 401, 403, 404, 409],
            parameters: [["name": "party", "in": "path", "required": true, "schema": ["type": "string", "pattern": "^[A-Z]{3}$"]]]),
        Route(
            method: "get", path: "/api/v1/agreements", summary: "This node's agreements and their state now", operationID: "listAgreements",
            success: (200, array(ref("Agreement"))), errors: [401]),
        Route(
            method: "get", path: "/api/v1/agreements/{agreement}/statements",
            summary: "An agreement's lifecycle statements: the ones it came with and every signed one recorded since (Art 21)",
            operationID: "listStatements", success: (200, array(ref("Statement"))), errors: [401, 404], parameters: [agreementID]),
        Route(
            method: "post", path: "/api/v1/agreements/{agreement}/statements",
            summary: "Issue a lifecycle act of this node's party: checked against the agreement's rules now, signed, recorded and sent to the other parties (Art 21; security officers)",
            operationID: "issueStatement", body: "StatementRequest", success: (201, ref("Statement")), errors: [400, 401, 403, 404, 409, 413],
            parameters: [agreementID]),
        Route(
            method: "get", path: "/api/v1/peers", summary: "Sync state of every peer: queue, lag, last error, alarm", operationID: "listPeers",
            success: (200, array(ref("Peer"))), errors: [401]),
        Route(
            method: "get", path: "/api/v1/ledger/head", summary: "This node's latest signed tree head", operationID: "treeHead",
            success: (200, ref("TreeHead")), errors: [401]),
        Route(
            method: "get", path: "/api/v1/ledger/entries/{index}",
            summary: "A ledger entry with its inclusion proof under the latest signed head (RFC 9162; auditors and security officers)",
            operationID: "ledgerEntry", success: (200, ref("LedgerEntry")), errors: [400, 401, 403, 404, 409],
            parameters: [["name": "index", "in": "path", "required": true, "schema": ["type": "integer", "minimum": 0]]]),
        Route(
            method: "get", path: "/api/v1/ledger/consistency",
            summary: "A consistency proof between two ledger sizes up to the latest signed head (RFC 9162; auditors and security officers)",
            operationID: "ledgerConsistency", success: (200, ref("Consistency")), errors: [400, 401, 403, 404],
            parameters: [
                ["name": "from", "in": "query", "required": true, "schema": ["type": "integer", "minimum": 1]],
                ["name": "to", "in": "query", "required": true, "schema": ["type": "integer", "minimum": 1]],
            ]),
        ]
    }

    static let statusText: [Int: String] = [
        400: "The request is malformed: the problem names the field and why.",
        401: "Not logged in, or the session or token is not valid.",
        403: "The caller's roles do not allow it, the CSRF token is missing, or a rule refuses it (the problem names the article).",
        404: "No such object.",
        409: "It conflicts with what exists (a duplicate, an item not held, an alarm stopping exchange).",
        413: "The body is too large.",
        429: "Locked out after repeated failed logins.",
        503: "The node's store is unavailable; nothing was done.",
    ]

    static let roles = Role.allCases.map(\.rawValue).sorted()

    static func schemas(_ node: Node) -> [String: Any] {
        let label = object(
            [
                "policy": string, "originator": ["type": "string", "pattern": "^[A-Z]{3}$"], "level": string,
                "releasable_to": array(["type": "string", "pattern": "^[A-Z]{3}$"]),
                "categories": array(
                    object(
                        ["tag": string, "kind": ["type": "string", "enum": ["RESTRICTIVE", "PERMISSIVE", "INFORMATIVE"]], "values": array(string)],
                        required: ["tag", "kind", "values"])),
                "purpose": nullable(string), "created": instant, "review": nullable(instant),
            ], required: ["level", "releasable_to"])
        let level: [String: Any] = ["type": "string", "enum": node.levels]
        let party: [String: Any] = ["type": "string", "enum": node.parties]
        let role: [String: Any] = ["type": "string", "enum": roles]
        let identifier: [String: Any] = ["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"]
        let text500: [String: Any] = ["type": "string", "minLength": 1, "maxLength": 500]
        let newLabel = object(
            [
                "policy": string, "originator": ["type": "string", "enum": [node.party.code]], "level": level, "releasable_to": array(party),
                "categories": array(
                    object(
                        ["tag": string, "kind": ["type": "string", "enum": ["RESTRICTIVE", "PERMISSIVE", "INFORMATIVE"]], "values": array(string)],
                        required: ["tag", "kind", "values"])),
                "purpose": nullable(string), "created": instant, "review": nullable(instant),
            ], required: ["level", "releasable_to"])
        let newClearance = object(["level": level, "expires": instant], required: ["level", "expires"])
        let clearance = object(["level": string, "marking": nullable(string), "expires": instant], required: ["level", "expires"])
        return [
            "Problem": [
                "type": "object",
                "properties": [
                    "type": string, "title": string, "status": ["type": "integer"], "detail": string, "code": string,
                    "article": ["type": "string", "description": "The article of the agreement a refusal enforces."], "refusal": string,
                ], "required": ["type", "title", "status", "detail"],
            ],
            "Login": object(["name": string, "password": string], required: ["name", "password"]),
            "Session": object(["user": ref("User"), "csrf_token": string, "expires": instant], required: ["user", "csrf_token", "expires"]),
            "User": object(
                [
                    "name": string, "display_name": string, "party": string, "roles": array(string), "clearance": clearance,
                    "categories": array(string), "disabled": ["type": "boolean"], "locked_until": instant,
                ], required: ["name", "display_name", "party", "roles", "categories", "disabled"]),
            "NewUser": object(
                [
                    "name": ["type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"], "display_name": string,
                    "roles": array(role), "clearance": newClearance, "categories": array(string),
                    "password": string,
                ], required: ["name", "display_name", "roles"]),
            "UserChange": object(
                [
                    "display_name": string, "roles": array(role), "clearance": newClearance,
                    "remove_clearance": ["type": "boolean"], "categories": array(string), "disabled": ["type": "boolean"], "password": string,
                ], required: []),
            "NewToken": object(
                ["name": string, "scopes": array(["type": "string", "enum": ["read", "write"]]), "lifetime_days": ["type": "integer", "minimum": 1, "maximum": 366]],
                required: ["name"]),
            "Token": object(["id": string, "name": string, "scopes": array(string), "expires": instant, "token": string], required: ["id", "name", "scopes"]),
            "Label": label, "NewLabel": newLabel,
            "Marking": object(
                ["originator": string, "originator_marking": string, "local": string, "local_level": string, "text": string],
                required: ["originator", "text"]),
            "Item": object(
                [
                    "id": string, "digest": string, "sequence": ["type": "integer"], "label": ref("Label"), "marking": ref("Marking"),
                    "media_type": string, "size": ["type": "integer"], "source": ["type": "string", "enum": ["originated", "received"]],
                    "from": string, "agreement": string, "at": instant, "status": string,
                ], required: ["id", "digest", "sequence", "label", "marking", "media_type", "size", "source", "at", "status"]),
            "ItemList": object(["items": array(ref("Item")), "next": ["type": "integer"]], required: ["items"]),
            "ItemContent": object(
                ["item": ref("Item"), "content_base64": string, "content_text": string], required: ["item", "content_base64"]),
            "NewItem": object(
                ["label": ref("NewLabel"), "media_type": string, "content_text": string, "content_base64": string], required: ["label", "media_type"]),
            "ReleaseRequest": object(["to": party, "agreement": ["type": "string", "enum": node.agreements]], required: ["to", "agreement"]),
            "Release": object(
                ["task": ["type": "integer"], "to": string, "agreement": string, "link_sequence": ["type": "integer"], "state": string],
                required: ["task", "to", "agreement", "link_sequence", "state"]),
            "ConsentRequest": object(
                [
                    "holder": party, "third_party": party, "purpose": ["type": "string", "minLength": 1, "maxLength": 200],
                    "days": ["type": "integer", "minimum": 1, "maximum": 366],
                ], required: ["holder", "third_party", "days"]),
            "Consent": object(
                ["id": string, "holder": string, "third_party": string, "expires": instant, "tasks": array(["type": "integer"])],
                required: ["id", "holder", "third_party", "expires", "tasks"]),
            "CompromiseRequest": object(
                [
                    "stage": ["type": "string", "enum": ["suspected", "investigating", "findings", "measures"]],
                    "description": ["type": "string", "minLength": 1, "maxLength": 2000], "incident": identifier,
                ], required: ["stage", "description"]),
            "NewConsentRequest": object(
                ["third_party": party, "purpose": ["type": "string", "minLength": 1, "maxLength": 200], "reason": ["type": "string", "minLength": 1, "maxLength": 2000]],
                required: ["third_party", "reason"]),
            "GrantRequest": object(["days": ["type": "integer", "minimum": 1, "maximum": 366]], required: ["days"]),
            "DenyRequest": object(["reason": ["type": "string", "minLength": 1, "maxLength": 2000]], required: ["reason"]),
            "ConsentRequestStatus": object(
                [
                    "id": string, "direction": ["type": "string", "enum": ["sent", "received"]], "holder": string, "originator": string,
                    "third_party": string, "item": string, "purpose": string, "reason": string, "at": instant,
                    "state": ["type": "string", "enum": ["pending", "granted", "denied"]], "answer": string, "answered_at": instant,
                    "tasks": array(["type": "integer"]),
                ], required: ["id", "direction", "holder", "originator", "third_party", "item", "reason", "at", "state"]),
            "LedgerEntry": object(
                [
                    "index": ["type": "integer"], "kind": string, "at": instant, "party": string, "subjects": array(string), "detail": string,
                    "entry": string, "tree_size": ["type": "integer"], "root": string, "inclusion_proof": array(string), "tree_head": string,
                ], required: ["index", "kind", "at", "subjects", "detail", "entry", "tree_size", "root", "inclusion_proof", "tree_head"]),
            "Consistency": object(
                ["from": ["type": "integer"], "to": ["type": "integer"], "proof": array(string), "tree_head": string, "to_tree_head": string],
                required: ["from", "to", "proof", "tree_head"]),
            "Incident": object(
                [
                    "incident": string, "stage": string, "reporter": string, "originator": string, "item": string, "at": instant,
                    "description": string, "received": ["type": "boolean"], "sequence": ["type": "integer"],
                ], required: ["incident", "stage", "reporter", "originator", "item", "at", "description", "received", "sequence"]),
            "Statements": object(["tasks": array(["type": "integer"])], required: ["tasks"]),
            "ReclassifyRequest": object(
                ["level": level, "reason": ["type": "string", "minLength": 1, "maxLength": 500]], required: ["level", "reason"]),
            "DestroyRequest": object(["method": ["type": "string", "minLength": 1, "maxLength": 500]], required: ["method"]),
            "StatementRequest": object(
                [
                    "act": ["type": "string", "enum": LifecycleStatement.Act.names], "effective": instant, "notice": identifier,
                    "condition": text500, "proposal": identifier, "summary": text500, "note": text500,
                ], required: ["act"]),
            "Statement": object(
                [
                    "id": string, "agreement": string, "party": ["type": "string", "pattern": "^[A-Z]{3}$"],
                    "act": ["type": "string", "enum": LifecycleStatement.Act.names], "at": instant,
                    "effective": instant, "notice": string, "condition": string, "proposal": string, "summary": string, "note": string,
                    "ledger_entry": ["type": "integer"], "tasks": array(["type": "integer"]),
                ], required: ["id", "agreement", "party", "act", "at"]),
            "Agreement": object(
                [
                    "id": string, "title": string, "parties": array(string), "phase": string, "in_force": ["type": "boolean"], "since": instant,
                    "current_term_ends": instant, "next_notice_deadline": instant, "scheduled_termination": instant, "terminated_at": instant,
                ], required: ["id", "title", "parties", "phase", "in_force"]),
            "Peer": object(
                [
                    "party": string, "endpoint": string, "queued": ["type": "integer"], "in_flight": ["type": "integer"],
                    "delivered": ["type": "integer"], "refused": ["type": "integer"], "lag_seconds": ["type": "number"], "last_success": instant,
                    "last_error": string, "alarm": string, "tree_size": ["type": "integer"],
                ], required: ["party", "endpoint", "queued", "in_flight", "delivered", "refused", "lag_seconds"]),
            "TreeHead": object(
                ["party": string, "size": ["type": "integer"], "root": string, "at": instant, "signed": string],
                required: ["party", "size", "root", "at", "signed"]),
        ]
    }

    static func document(_ node: Node) -> [String: Any] {
        let party = node.party
        var paths: [String: [String: Any]] = [:]
        for r in routes {
            var responses: [String: Any] = [:]
            var success: [String: Any] = ["description": "Done."]
            if let schema = r.success.schema { success["content"] = ["application/json": ["schema": schema]] }
            responses[String(r.success.status)] = success
            for status in r.errors + [503] {
                responses[String(status)] = [
                    "description": statusText[status] ?? "An error.", "content": ["application/problem+json": ["schema": ref("Problem")]],
                ]
            }
            var operation: [String: Any] = ["summary": r.summary, "operationId": r.operationID, "responses": responses]
            var parameters = r.parameters
            if r.authenticated && r.changing {
                parameters.append([
                    "name": OperatorAPI.csrfHeader, "in": "header", "required": false,
                    "description": "Required with the session cookie on state-changing requests (not with an API token).", "schema": string,
                ])
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if let body = r.body {
                operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": ref(body)]]]
            }
            operation["security"] = r.authenticated ? [["session": [String]()], ["token": [String]()]] : [[String: [String]]]()
            paths[r.path, default: [:]][r.method] = operation
        }
        paths["/metrics"] = [
            "get": [
                "summary": "The node's metrics in the Prometheus text format (auditors, security officers, administrators)", "operationId": "metrics",
                "security": [["session": [String]()], ["token": [String]()]],
                "responses": [
                    "200": ["description": "Prometheus text exposition format 0.0.4.", "content": ["text/plain": ["schema": ["type": "string"]]]],
                    "401": ["description": statusText[401]!, "content": ["application/problem+json": ["schema": ref("Problem")]]],
                    "403": ["description": statusText[403]!, "content": ["application/problem+json": ["schema": ref("Problem")]]],
                    "503": ["description": statusText[503]!, "content": ["application/problem+json": ["schema": ref("Problem")]]],
                ],
            ]
        ]
        paths["/openapi.json"] = [
            "get": [
                "summary": "This document", "operationId": "openapi", "security": [[String: [String]]](),
                "responses": ["200": ["description": "The OpenAPI document.", "content": ["application/json": ["schema": ["type": "object"]]]]],
            ]
        ]
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Liaison operator API (\(party) node)", "version": "1",
                "description":
                    "Items, releases, agreements, peers, the ledger and users of one Liaison node. Every read and every refusal goes through the access policy (Art 7) and into the ledger. Errors are RFC 9457 problem details; a refusal names the article it enforces.",
            ],
            "paths": paths,
            "components": [
                "schemas": schemas(node),
                "securitySchemes": [
                    "session": ["type": "apiKey", "in": "cookie", "name": OperatorAPI.sessionCookie(party)],
                    "token": ["type": "http", "scheme": "bearer", "description": "An API token from POST /api/v1/tokens."],
                ],
            ],
        ]
    }
}
