internal import Foundation
internal import LiaisonHTTP
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import LiaisonStorePostgres
internal import LiaisonStoreSQLite

/// `liaison user …`: the people of a node, managed on its store while the
/// node is stopped (while it runs, administrators use the operator API).
extension Commands {
    /// What `liaison user add` and `liaison user grant` set.
    public struct UserChange: Sendable {
        public var displayName: String?
        public var addRoles: [String] = []
        public var removeRoles: [String] = []
        public var clearance: String?
        public var clearanceExpires: String?
        public var removeClearance = false
        public var addCategories: [String] = []
        public var removeCategories: [String] = []
        public init() {}
    }

    /// Opens the node's accounts (its store and its scheme) for one command.
    static func withAccounts(
        directory: String, config: String?, flags: [String: String], _ body: (Accounts) async throws(OperatorError) -> CommandOutput
    ) async -> CommandOutput {
        do {
            let settings = try await ServeConfiguration.load(directory: directory, file: config, flags: flags)
            let node = try NodeDirectory(path: directory).load()
            let set = try ExampleSet(directory: settings.agreements)
            guard let scheme = set.agreements.values.sorted(by: { $0.id < $1.id }).lazy.compactMap({ $0.scheme(of: node.party) }).first else {
                return CommandOutput(failure: "no agreement in \(settings.agreements) gives \(node.party)'s classification scheme")
            }
            let store: any NodeStore
            if let url = settings.postgresURL {
                store = try await PostgresStore(
                    configuration: PostgresLocation(url: url).configuration(), storageKey: try NodeDirectory(path: directory).storageKey())
            } else {
                let key = try NodeDirectory(path: directory).storageKey()
                do { store = try SQLiteStore(directory: directory, storageKey: key) } catch {
                    if error.code == .locked {
                        return CommandOutput(failure: "the node is running (its store is locked): use the operator API (/api/v1/users) or stop it first")
                    }
                    throw error
                }
            }
            let key = node.signing, me = node.party
            let accounts = Accounts(
                party: me, store: store, scheme: scheme, policy: settings.accounts,
                sign: { size, root in try Signed(signing: TreeHead(party: me, size: size, root: root, at: Date()), with: key) })
            do { return try await body(accounts) } catch { return CommandOutput(failure: error.reason) }
        } catch let e as AppError {
            return CommandOutput(failure: e.description)
        } catch {
            return CommandOutput(failure: "\(error)")
        }
    }

    static func parseExpiry(_ text: String?) throws(OperatorError) -> Date {
        guard let text else { throw OperatorError(.invalidInput, "a clearance needs --clearance-expires (YYYY-MM-DD or an RFC 3339 instant)") }
        if let d = RFC3339.parse(text) ?? RFC3339.parse(text + "T00:00:00Z") { return d }
        throw OperatorError(.invalidInput, "--clearance-expires \(text) is neither YYYY-MM-DD nor an RFC 3339 instant")
    }

    public static func userAdd(
        directory: String, config: String?, flags: [String: String], name: String, change: UserChange, password: String?
    ) async -> CommandOutput {
        await withAccounts(directory: directory, config: config, flags: flags) { accounts throws(OperatorError) in
            let clearance = try change.clearance.map { level throws(OperatorError) in (level, try parseExpiry(change.clearanceExpires)) }
            let profile = Accounts.Profile(
                displayName: change.displayName ?? name, roles: try Accounts.roles(change.addRoles.isEmpty ? ["analyst"] : change.addRoles),
                clearance: clearance, categories: Set(change.addCategories))
            let user = try await accounts.add(name, profile, password: password, by: "the command line")
            var out = CommandOutput()
            out.stdout = ["added " + describe(user, accounts.scheme)]
            if password == nil { out.stderr = ["\(name) has no password yet: set one with `liaison user password \(name) --password-stdin`"] }
            return out
        }
    }

    public static func userGrant(directory: String, config: String?, flags: [String: String], name: String, change: UserChange) async -> CommandOutput {
        await withAccounts(directory: directory, config: config, flags: flags) { accounts throws(OperatorError) in
            let add = try Accounts.roles(change.addRoles), remove = try Accounts.roles(change.removeRoles)
            let clearance = try change.clearance.map { level throws(OperatorError) in (level, try parseExpiry(change.clearanceExpires)) }
            if clearance != nil && change.removeClearance { throw OperatorError(.invalidInput, "--clearance and --remove-clearance together: choose one") }
            let user = try await accounts.update(name, by: "the command line") { p in
                if let v = change.displayName { p.displayName = v }
                p.roles = p.roles.union(add).subtracting(remove)
                if let clearance { p.clearance = clearance }
                if change.removeClearance { p.clearance = nil }
                p.categories = p.categories.union(change.addCategories).subtracting(change.removeCategories)
            }
            var out = CommandOutput()
            out.stdout = ["changed " + describe(user, accounts.scheme)]
            return out
        }
    }

    public static func userSetDisabled(directory: String, config: String?, flags: [String: String], name: String, disabled: Bool) async -> CommandOutput {
        await withAccounts(directory: directory, config: config, flags: flags) { accounts throws(OperatorError) in
            try await accounts.setDisabled(name, disabled, by: "the command line")
            var out = CommandOutput()
            out.stdout = ["\(name) \(disabled ? "disabled: its sessions and tokens no longer work" : "enabled")"]
            return out
        }
    }

    public static func userPassword(directory: String, config: String?, flags: [String: String], name: String, password: String) async -> CommandOutput {
        await withAccounts(directory: directory, config: config, flags: flags) { accounts throws(OperatorError) in
            try await accounts.setPassword(name, password, by: "the command line")
            var out = CommandOutput()
            out.stdout = ["password of \(name) set"]
            return out
        }
    }

    public static func userList(directory: String, config: String?, flags: [String: String]) async -> CommandOutput {
        await withAccounts(directory: directory, config: config, flags: flags) { accounts throws(OperatorError) in
            var out = CommandOutput()
            let users = try await accounts.users()
            out.stdout = users.isEmpty ? ["no users"] : users.map { describe($0, accounts.scheme) }
            return out
        }
    }

    static func describe(_ u: UserRecord, _ scheme: ClassificationScheme) -> String {
        let clearance =
            u.clearance.map { c in
                "\(scheme.level(c.level).map { "\($0.marking) (\($0.code))" } ?? c.level) until \(RFC3339.format(c.expires).prefix(10))"
            } ?? "no clearance"
        var flags: [String] = []
        if u.disabled { flags.append("DISABLED") }
        if let l = u.lockedUntil, l > Date() { flags.append("LOCKED until \(RFC3339.format(l))") }
        if u.credential == nil { flags.append("no password") }
        let categories = u.categories.isEmpty ? "-" : u.categories.sorted().joined(separator: ",")
        return "\(u.name) (\(u.displayName)) \(u.party): \(u.roles.sorted().map(\.rawValue).joined(separator: ",")); \(clearance); categories \(categories)"
            + (flags.isEmpty ? "" : "; " + flags.joined(separator: "; "))
    }
}
