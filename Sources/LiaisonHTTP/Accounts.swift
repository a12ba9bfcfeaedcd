internal import Crypto
public import Foundation
internal import HummingbirdBcrypt
public import LiaisonModel
internal import LiaisonSealing
public import LiaisonStore
internal import Dispatch
internal import Synchronization

/// The people of a node and how they prove who they are (Art 7): users
/// with their clearance in the node's own scheme, need-to-know categories
/// and roles; passwords kept as bcrypt hashes; console sessions and API
/// tokens kept as SHA-256 hashes of their secrets; lock-out after repeated
/// failed logins. Every change to a user, every login and every failed one
/// is in the ledger.
public final class Accounts: Sendable {
    public struct Policy: Sendable {
        /// Failed logins in a row that lock the account.
        public var failuresBeforeLockOut = 5
        /// How long a lock-out lasts.
        public var lockOut: TimeInterval = 15 * 60
        /// How long a console session lasts.
        public var sessionLifetime: TimeInterval = 8 * 3600
        /// bcrypt's cost (2^cost rounds): 12 takes about a quarter of a second here.
        public var bcryptCost: UInt8 = 12
        public var minimumPasswordLength = 12
        public init() {}
    }

    public let party: Party
    public let store: any NodeStore
    public let policy: Policy
    /// The node's own classification scheme: clearances are levels of it.
    public let scheme: ClassificationScheme
    let sign: TreeHeadSigner
    let clock: @Sendable () -> Date
    /// Verified against when the name is unknown, so that a wrong name
    /// takes as long as a wrong password; made at the first such login
    /// (a bcrypt hash is a quarter of a second: not at every start).
    let decoyHash = Mutex<String?>(nil)

    public init(
        party: Party, store: any NodeStore, scheme: ClassificationScheme, policy: Policy = .init(), sign: @escaping TreeHeadSigner,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        (self.party, self.store, self.scheme, self.policy, self.sign, self.clock) = (party, store, scheme, policy, sign, clock)
    }

    // MARK: Administration

    /// What an administrator sets on a user.
    public struct Profile: Sendable {
        public var displayName: String
        public var roles: Set<Role>
        /// A level code of the node's scheme, and when the clearance expires.
        public var clearance: (level: String, expires: Date)?
        /// Need-to-know category values, `TAG:VALUE`.
        public var categories: Set<String>
        public init(displayName: String, roles: Set<Role>, clearance: (level: String, expires: Date)?, categories: Set<String>) {
            (self.displayName, self.roles, self.clearance, self.categories) = (displayName, roles, clearance, categories)
        }
    }

    /// Creates a user at this node (recorded with who created it).
    @discardableResult
    public func add(_ name: String, _ profile: Profile, password: String?, by actor: String) async throws(OperatorError) -> UserRecord {
        try check(profile)
        let credential: [UInt8]?
        if let password { credential = try await hash(password) } else { credential = nil }
        let now = clock()
        let user = UserRecord(
            name: name, displayName: profile.displayName, party: party, roles: profile.roles,
            clearance: profile.clearance.map { Clearance(level: $0.level, expires: $0.expires) }, categories: profile.categories,
            credential: credential, createdAt: now)
        try await call { () throws(StoreError) in
            try await store.createUser(user, ledger: entry(.userChanged, "user \(name) created by \(actor): \(Self.summary(user))"))
        }
        return user
    }

    /// Changes what a user holds: roles, clearance, categories, display name.
    @discardableResult
    public func update(_ name: String, by actor: String, _ change: (inout Profile) -> Void) async throws(OperatorError) -> UserRecord {
        var user = try await user(name)
        var profile = Profile(
            displayName: user.displayName, roles: user.roles, clearance: user.clearance.map { ($0.level, $0.expires) }, categories: user.categories)
        change(&profile)
        try check(profile)
        user.displayName = profile.displayName
        user.roles = profile.roles
        user.clearance = profile.clearance.map { Clearance(level: $0.level, expires: $0.expires) }
        user.categories = profile.categories
        let summary = Self.summary(user)
        let changed = user
        try await call { () throws(StoreError) in
            try await store.updateUser(changed, ledger: entry(.userChanged, "user \(name) changed by \(actor): \(summary)"))
        }
        return user
    }

    /// Disables (or enables again) a user: its sessions and tokens stop working at once.
    public func setDisabled(_ name: String, _ disabled: Bool, by actor: String) async throws(OperatorError) {
        var user = try await user(name)
        user.disabled = disabled
        if !disabled { (user.failedLogins, user.lockedUntil) = (0, nil) }
        let changed = user
        try await call { () throws(StoreError) in
            try await store.updateUser(changed, ledger: entry(.userChanged, "user \(name) \(disabled ? "disabled" : "enabled") by \(actor)"))
        }
    }

    /// Sets a user's password (and lifts a lock-out).
    public func setPassword(_ name: String, _ password: String, by actor: String) async throws(OperatorError) {
        var user = try await user(name)
        user.credential = try await hash(password)
        (user.failedLogins, user.lockedUntil) = (0, nil)
        let changed = user
        try await call { () throws(StoreError) in
            try await store.updateUser(changed, ledger: entry(.userChanged, "password of \(name) set by \(actor)"))
        }
    }

    public func user(_ name: String) async throws(OperatorError) -> UserRecord {
        try await call { () throws(StoreError) in try await store.user(name) }
    }

    public func users() async throws(OperatorError) -> [UserRecord] {
        try await call { () throws(StoreError) in try await store.users() }
    }

    /// Roles by name, as the API, the console and the command line take them.
    public static func roles(_ names: [String]) throws(OperatorError) -> Set<Role> {
        var out = Set<Role>()
        for n in names {
            guard let r = Role(rawValue: n) else {
                throw OperatorError(.invalidInput, "\(n.prefix(40)) is not a role (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            out.insert(r)
        }
        return out
    }

    func check(_ p: Profile) throws(OperatorError) {
        guard !p.displayName.trimmingCharacters(in: .whitespaces).isEmpty else { throw OperatorError(.invalidInput, "a user needs a display name") }
        guard !p.roles.isEmpty else {
            throw OperatorError(.invalidInput, "a user needs at least one role (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let c = p.clearance {
            guard scheme.level(c.level) != nil else {
                throw OperatorError(
                    .invalidInput,
                    "clearance \(c.level) is not a level of \(party)'s scheme (\(scheme.levels.map(\.code).joined(separator: ", ")))")
            }
        }
        for c in p.categories {
            let parts = c.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !c.contains(where: \.isNewline) else {
                throw OperatorError(.invalidInput, "category \"\(c.prefix(80))\" must be TAG:VALUE, as PROJECT:EAST-SEA")
            }
        }
    }

    static func summary(_ u: UserRecord) -> String {
        let clearance = u.clearance.map { "clearance \($0.level) until \(RFC3339.format($0.expires))" } ?? "no clearance"
        let categories = u.categories.isEmpty ? "no categories" : "categories \(u.categories.sorted().joined(separator: ", "))"
        return "roles \(u.roles.sorted().map(\.rawValue).joined(separator: ", ")); \(clearance); \(categories)"
    }

    // MARK: Passwords

    func hash(_ password: String) async throws(OperatorError) -> [UInt8] {
        let bytes = password.utf8.count
        guard password.count >= policy.minimumPasswordLength else {
            throw OperatorError(.invalidInput, "a password has at least \(policy.minimumPasswordLength) characters")
        }
        // bcrypt reads 72 bytes; a longer password would be cut without a word.
        guard bytes <= 72 else { throw OperatorError(.invalidInput, "a password has at most 72 bytes (this one has \(bytes))") }
        guard !password.contains("\u{0}") else { throw OperatorError(.invalidInput, "a password cannot contain NUL") }
        let cost = policy.bcryptCost
        return Array(await Self.offload { Bcrypt.hash(password, cost: cost) }.utf8)
    }

    /// bcrypt is slow on purpose: it runs off the server's threads.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: work()) } }
    }

    // MARK: Logging in

    /// A session: the secret goes to the browser in a cookie; only its hash is stored.
    public struct Session: Sendable {
        public let secret: String
        public let user: UserRecord
        public let expires: Date
        /// The token every form and every state-changing API call carries.
        public var csrf: String { Accounts.csrfToken(session: secret) }
    }

    /// Logs a user in with a password. A wrong name and a wrong password get
    /// the same answer in the same time; the `failuresBeforeLockOut`-th
    /// failure in a row locks the account for `lockOut`.
    public func login(_ name: String, password: String) async throws(OperatorError) -> Session {
        let now = clock()
        let wrong = OperatorError(.unauthenticated, "the name or the password is wrong")
        let known: UserRecord?
        do { known = try await store.user(name) } catch {
            if error.code == .notFound || error.code == .invalidInput {
                known = nil
            } else {
                throw OperatorError(error)
            }
        }
        guard let user = known, !user.disabled, let credential = user.credential else {
            let cost = policy.bcryptCost, made = decoyHash.withLock { $0 }
            let decoy = await Self.offload { made ?? Bcrypt.hash(UUID().uuidString, cost: cost) }
            decoyHash.withLock { if $0 == nil { $0 = decoy } }
            _ = await Self.offload { Bcrypt.verify(password, hash: decoy) }
            let who = known.map { "\($0.name) (\($0.disabled ? "disabled" : "no password"))" } ?? "an unknown name"
            try await record(LedgerEntry(kind: .accessRefused, at: now, detail: "login refused: \(who)"))
            throw wrong
        }
        if let until = user.lockedUntil, until > now {
            try await record(LedgerEntry(kind: .accessRefused, at: now, detail: "login of \(name) refused: locked until \(RFC3339.format(until))"))
            throw OperatorError(.lockedOut, "the account is locked until \(RFC3339.format(until)) after repeated failed logins")
        }
        let hash = String(decoding: credential, as: UTF8.self)
        guard await Self.offload({ Bcrypt.verify(password, hash: hash) }) else {
            let until = now.addingTimeInterval(policy.lockOut)
            let limit = policy.failuresBeforeLockOut
            let failures = user.failedLogins + 1
            let detail =
                failures >= limit
                ? "login of \(name) failed (\(failures) in a row): locked until \(RFC3339.format(until))"
                : "login of \(name) failed (\(failures) of \(limit) before lock-out)"
            let after = try await call { () throws(StoreError) in
                try await store.recordLoginFailure(
                    name, limit: limit, lockUntil: until,
                    ledger: LedgerWrite([LedgerEntry(kind: failures >= limit ? .userChanged : .accessRefused, at: now, detail: detail)], sign: nil))
            }
            if let locked = after.lockedUntil, locked > now {
                throw OperatorError(.lockedOut, "the account is locked until \(RFC3339.format(locked)) after \(limit) failed logins")
            }
            throw wrong
        }
        let secret = Self.secret()
        let expires = now.addingTimeInterval(policy.sessionLifetime)
        // One transaction, which refuses an account locked (or disabled) since it was read above.
        do {
            try await store.recordLoginSuccess(
                SessionRecord(tokenHash: Self.digest(secret), user: name, createdAt: now, expiresAt: expires),
                ledger: LedgerWrite([LedgerEntry(kind: .signedIn, at: now, detail: "\(name) logged in")], sign: nil))
        } catch {
            if error.code == .conflict { throw OperatorError(.lockedOut, "the account is locked or disabled") }
            throw OperatorError(error)
        }
        return Session(secret: secret, user: user, expires: expires)
    }

    /// Records a refused login; if the ledger cannot be written, the login is refused as unavailable (nothing unrecorded).
    func record(_ entry: LedgerEntry) async throws(OperatorError) {
        try await call { () throws(StoreError) in _ = try await store.append([entry], sign: nil) }
    }

    /// The user of a live session.
    public func session(_ secret: String) async throws(OperatorError) -> UserRecord {
        guard Self.wellFormed(secret) else { throw OperatorError(.unauthenticated, "the session is not valid; log in again") }
        do { return try await store.session(tokenHash: Self.digest(secret), now: clock()).1 } catch {
            if error.code == .notFound { throw OperatorError(.unauthenticated, "the session has ended; log in again") }
            throw OperatorError(error)
        }
    }

    public func logout(_ secret: String) async {
        guard Self.wellFormed(secret) else { return }
        try? await store.revokeSession(tokenHash: Self.digest(secret))
    }

    // MARK: API tokens

    /// What an API token may do: `read` (GET), `write` (state-changing requests).
    public static let scopes: Set<String> = ["read", "write"]

    /// Issues an API token to `user`: the secret is shown once, only its hash is kept.
    public func issueToken(to name: String, named label: String, scopes: Set<String>, lifetime: TimeInterval?, by actor: String)
        async throws(OperatorError) -> (record: APITokenRecord, secret: String)
    {
        guard !scopes.isEmpty, scopes.isSubset(of: Self.scopes) else {
            throw OperatorError(.invalidInput, "a token's scopes are read and write (one or both), not \(scopes.sorted().joined(separator: ", ").prefix(80))")
        }
        let now = clock()
        let secret = "lsn_" + Self.secret()
        let record = APITokenRecord(
            id: "tok_" + String(Self.secret().prefix(16)), name: label, user: name, tokenHash: Self.digest(secret), scopes: scopes, createdAt: now,
            expiresAt: lifetime.map { now.addingTimeInterval($0) })
        try await call { () throws(StoreError) in
            try await store.createAPIToken(record)
            _ = try await store.append(
                [LedgerEntry(kind: .userChanged, at: now, detail: "API token \(record.id) (\(label)) issued to \(name) by \(actor)")], sign: nil)
        }
        return (record, secret)
    }

    /// The user of a live API token.
    public func token(_ secret: String) async throws(OperatorError) -> (UserRecord, APITokenRecord) {
        guard secret.hasPrefix("lsn_"), Self.wellFormed(String(secret.dropFirst(4))) else {
            throw OperatorError(.unauthenticated, "the API token is not valid")
        }
        do {
            let (token, user) = try await store.apiToken(tokenHash: Self.digest(secret), now: clock())
            return (user, token)
        } catch {
            if error.code == .notFound { throw OperatorError(.unauthenticated, "the API token is not valid, expired or revoked") }
            throw OperatorError(error)
        }
    }

    // MARK: Secrets

    /// 32 random bytes, base64url without padding (43 characters).
    static func secret() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var g = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = g.next() }
        return Base64URL.encode(bytes)
    }

    static func wellFormed(_ secret: String) -> Bool {
        secret.utf8.count == 43 && secret.utf8.allSatisfy { Base64URL.alphabet.contains($0) }
    }

    static func digest(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Array(secret.utf8))) }

    /// The CSRF token of a session: an HMAC of a fixed text under the
    /// session's secret. A page of this node can show it; another site can
    /// neither read the cookie nor compute it.
    public static func csrfToken(session secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("liaison-csrf-v1".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Base64URL.encode(Array(mac))
    }

    /// Compares in constant time.
    public static func csrfMatches(_ presented: String?, session secret: String) -> Bool {
        guard let presented else { return false }
        let a = Array(presented.utf8), b = Array(csrfToken(session: secret).utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    // MARK: Helpers

    func entry(_ kind: LedgerEntry.Kind, _ detail: String) -> LedgerWrite {
        LedgerWrite([LedgerEntry(kind: kind, at: clock(), detail: detail)], sign: nil)
    }

    func call<T>(_ body: () async throws(StoreError) -> T) async throws(OperatorError) -> T {
        do { return try await body() } catch { throw OperatorError(error) }
    }

    /// The reader the access policy judges (invariant 3).
    public static func reader(_ u: UserRecord) -> Reader {
        Reader(
            name: u.name, party: u.party, clearance: u.clearance?.level ?? "", clearanceExpires: u.clearance?.expires,
            categories: Set(
                u.categories.compactMap { c in
                    let parts = c.split(separator: ":", maxSplits: 1)
                    return parts.count == 2 ? CategoryValue(tag: String(parts[0]), value: String(parts[1])) : nil
                }), roles: u.roles, disabled: u.disabled)
    }
}

/// base64url (RFC 4648 §5) without padding.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
