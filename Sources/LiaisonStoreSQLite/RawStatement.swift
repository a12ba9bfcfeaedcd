internal import GRDB
internal import GRDBSQLite

/// Binds, steps and reads a GRDB cached statement through SQLite's C API,
/// for the few statements that run once per ledger leaf or item. Why not
/// GRDB's own `execute(arguments:)`: it boxes every argument (an array of
/// existentials, a `Data` copy per blob), about 2 µs per row, which is most
/// of a batch insert's time; binding buffers directly costs a fraction of
/// that. Reading likewise: `Row.fetchOne` opens a cursor and copies the row
/// into a `Row` before a column is read, more than the lookup itself costs
/// when a batch reads its items one by one (rows are read through
/// ``ColumnReader``). The statement stays GRDB's: prepared and cached by
/// GRDB, used only on its connection's queue (inside a transaction, or as
/// the one statement of a read), reset after each use.
struct RawStatement {
    /// Kept so that GRDB cannot finalize the statement while it is in use.
    let statement: Statement
    let handle: OpaquePointer
    let connection: OpaquePointer

    init(_ statement: Statement, _ db: Database) {
        self.statement = statement
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// SQLite copies the bytes (SQLITE_TRANSIENT).
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ bytes: [UInt8]) {
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(handle, index, 0)
        } else {
            bytes.withUnsafeBytes { _ = sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
        }
    }

    func bind(_ index: Int32, _ bytes: [UInt8]?) {
        if let bytes { bind(index, bytes) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }

    func bind(_ index: Int32, _ text: String?) {
        guard let text else {
            sqlite3_bind_null(handle, index)
            return
        }
        var t = text
        t.withUTF8 { _ = sqlite3_bind_text(handle, index, UnsafeRawPointer($0.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }, Int32($0.count), Self.transient) }
    }

    /// Runs a statement that returns no row; the statement is reset after.
    func run() throws {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_DONE else { throw error(rc) }
    }

    /// The first column of the one row, as bytes, or `nil` when there is no row.
    func blob() throws -> [UInt8]? {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_ROW else {
            if rc == SQLITE_DONE { return nil }
            throw error(rc)
        }
        let count = Int(sqlite3_column_bytes(handle, 0))
        guard count > 0, let base = sqlite3_column_blob(handle, 0) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The first column of the one row, as an integer, or `nil` when there is no row.
    func int64() throws -> Int64? {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_ROW else {
            if rc == SQLITE_DONE { return nil }
            throw error(rc)
        }
        return sqlite3_column_int64(handle, 0)
    }

    /// The first column of the one row, as text, or `nil` when there is no row.
    func text() throws -> String? {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_ROW else {
            if rc == SQLITE_DONE { return nil }
            throw error(rc)
        }
        guard let c = sqlite3_column_text(handle, 0) else { return "" }
        return String(cString: c)
    }

    /// Every row as (integer, bytes) from its first two columns.
    func rows(_ row: (Int64, [UInt8]) -> Void) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc) }
            let count = Int(sqlite3_column_bytes(handle, 1))
            let bytes = count > 0 ? Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(handle, 1), count: count)) : []
            row(sqlite3_column_int64(handle, 0), bytes)
        }
    }

    /// The one row's columns, read by `read` (with ``int64(at:)``,
    /// ``bytes(at:)`` and the like), or `nil` when there is no row.
    func one<T>(_ read: (RawStatement) throws -> T) throws -> T? {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_ROW else {
            if rc == SQLITE_DONE { return nil }
            throw error(rc)
        }
        return try read(self)
    }

    /// Every row's columns, read by `read`, in the statement's order.
    func all<T>(_ read: (RawStatement) throws -> T) throws -> [T] {
        defer { sqlite3_reset(handle) }
        var out: [T] = []
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return out }
            guard rc == SQLITE_ROW else { throw error(rc) }
            out.append(try read(self))
        }
    }

    func error(_ rc: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)), message: String(cString: sqlite3_errmsg(connection)))
    }
}
