import Glibc
import Logging
import Synchronization
import AudienceSupport

/// Watches every folder of the inbox with inotify (IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE), new
/// folders included, and rings the doorbell on any event. Events are only hints: the rescan they
/// trigger is the truth. Files renamed into the inbox are remembered as complete uploads.
public final class InboxWatcher: Sendable {
    private let inotify: Inotify
    private let doorbell: Doorbell
    private let logger: Logger
    private let watches = Mutex<[Int32: String]>([:])
    private let renamedIn = Mutex<Set<String>>([])
    private let excluded: Set<String>

    static let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_ATTRIB) | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW)

    public init(doorbell: Doorbell, excluded: Set<String>, logger: Logger) throws {
        do {
            inotify = try Inotify(label: "tiktok-audience-sync.inotify")
        } catch {
            throw InboxError(path: "inotify", "cannot watch the inbox: \(error); raise fs.inotify.max_user_instances", ending: .configuration)
        }
        self.doorbell = doorbell
        self.excluded = excluded
        self.logger = logger
    }

    /// Starts taking events; those of folders watched before the start were kept and come first.
    public func start() {
        inotify.start { [weak self] events in self?.handle(events) }
    }

    public func stop() {
        inotify.stop()
    }

    /// Watches `folders` (and forgets watches of folders that are gone).
    public func watch(_ folders: [String]) {
        for folder in folders where !excluded.contains(folder) {
            let known = watches.withLock { $0.values.contains(folder) }
            if known { continue }
            switch inotify.add(folder, mask: Self.mask) {
            case .success(let watch):
                watches.withLock { $0[watch] = folder }
            case .failure(let error):
                logger.warning("cannot watch folder", metadata: ["folder": "\(folder)", "error": "\(error)"])
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

    private func handle(_ events: [Inotify.Event]) {
        for event in events { handle(event) }
        if !events.isEmpty { doorbell.ring() }
    }

    private func handle(_ event: Inotify.Event) {
        if event.has(IN_IGNORED) {
            _ = watches.withLock { $0.removeValue(forKey: event.watch) }
            return
        }
        guard let folder = watches.withLock({ $0[event.watch] }), !event.name.isEmpty else { return }
        let path = folder + "/" + event.name
        if event.has(IN_ISDIR) {
            if event.has(IN_CREATE | IN_MOVED_TO) && !event.name.hasPrefix(".") {
                // A new partner folder: watch it and the folders already inside.
                watch((try? InboxScanner(root: path, excluded: excluded, settleSeconds: .infinity).list().folders) ?? [path])
            }
            return
        }
        if event.has(IN_MOVED_TO) {
            renamedIn.withLock { _ = $0.insert(path) }
        }
    }
}
