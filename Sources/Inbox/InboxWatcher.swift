import Dispatch
import Glibc
import Logging
import Synchronization
import AudienceSupport

/// Watches every folder of the inbox with inotify (IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE), new
/// folders included, and rings the doorbell on any event. Events are only hints: the rescan they
/// trigger is the truth. Files renamed into the inbox are remembered as complete uploads.
public final class InboxWatcher: Sendable {
    private let descriptor: Int32
    private let doorbell: Doorbell
    private let logger: Logger
    private let watches = Mutex<[Int32: String]>([:])
    private let renamedIn = Mutex<Set<String>>([])
    /// Dispatch sources are thread-safe; Swift does not know it.
    private nonisolated(unsafe) let source: DispatchSourceRead
    private let excluded: Set<String>

    static let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_ATTRIB) | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW)

    public init(doorbell: Doorbell, excluded: Set<String>, logger: Logger) throws {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            throw InboxError(path: "inotify", "cannot watch the inbox: \(String(cString: strerror(errno))); raise fs.inotify.max_user_instances", ending: .configuration)
        }
        descriptor = fd
        source = DispatchSource.makeReadSource(
            fileDescriptor: fd, queue: DispatchQueue(label: "tiktok-audience-sync.inotify"))
        self.doorbell = doorbell
        self.excluded = excluded
        self.logger = logger
    }

    deinit { close(descriptor) }

    /// Starts reading events. Set up outside any actor: the handler runs on a private queue.
    public nonisolated func start() {
        source.setEventHandler { [weak self] in self?.drainEvents() }
        source.resume()
    }

    public func stop() {
        source.cancel()
    }

    /// Watches `folders` (and forgets watches of folders that are gone).
    public func watch(_ folders: [String]) {
        for folder in folders where !excluded.contains(folder) {
            let known = watches.withLock { $0.values.contains(folder) }
            if known { continue }
            let wd = inotify_add_watch(descriptor, folder, Self.mask)
            if wd >= 0 {
                watches.withLock { $0[wd] = folder }
            } else {
                logger.warning("cannot watch folder", metadata: ["folder": "\(folder)", "error": "\(String(cString: strerror(errno)))"])
            }
        }
    }

    /// True (once) when `path` arrived by a rename: a finished upload.
    public func takeRenamedIn(_ path: String) -> Bool {
        renamedIn.withLock { $0.remove(path) != nil }
    }

    public func wasRenamedIn(_ path: String) -> Bool {
        renamedIn.withLock { $0.contains(path) }
    }

    private func drainEvents() {
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var sawEvent = false
        while true {
            let count = read(descriptor, buffer, size)
            if count <= 0 { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = buffer + offset + MemoryLayout<inotify_event>.size
                let name = event.len > 0 ? String(cString: nameStart.assumingMemoryBound(to: CChar.self)) : ""
                handle(event, name: name)
                sawEvent = true
                offset += MemoryLayout<inotify_event>.size + Int(event.len)
            }
        }
        if sawEvent { doorbell.ring() }
    }

    private func handle(_ event: inotify_event, name: String) {
        if event.mask & UInt32(IN_IGNORED) != 0 {
            _ = watches.withLock { $0.removeValue(forKey: event.wd) }
            return
        }
        guard let folder = watches.withLock({ $0[event.wd] }), !name.isEmpty else { return }
        let path = folder + "/" + name
        if event.mask & UInt32(IN_ISDIR) != 0 {
            if event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 && !name.hasPrefix(".") {
                // A new partner folder: watch it and the folders already inside.
                watch((try? InboxScanner(root: path, excluded: excluded, settleSeconds: .infinity).list().folders) ?? [path])
            }
            return
        }
        if event.mask & UInt32(IN_MOVED_TO) != 0 {
            renamedIn.withLock { _ = $0.insert(path) }
        }
    }
}
