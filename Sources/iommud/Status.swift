import ArgumentParser
import IOMMUCore
import IOMMUDaemon

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon: platform, units, faulting devices, bounds, losses.",
        discussion: "Exit codes: 0 answered, 3 no daemon running, 77 no permission on the control socket.")

    @Flag(name: .long, help: "One JSON object, for tools.")
    var json = false

    @Option(
        name: .long, help: "The control socket (default: [control] socket of the config, /run/iommud/control.sock).")
    var socket: String?

    @Option(name: .long, help: "Configuration file to take the control socket from.")
    var config: String?

    func run() throws {
        var path = socket
        if path == nil, case .success(let c) = loadConfiguration(path: config) { path = c.controlSocket }
        let target = path ?? Configuration().controlSocket
        switch ControlClient.get(path: target, target: json ? "/status.json" : "/status") {
        case .success(let body):
            print(body, terminator: body.hasSuffix("\n") ? "" : "\n")
        case .failure(.notRunning(let why)):
            writeStderr(
                "iommud is not running: nothing answers on \(target) (\(why)). Start it with `systemctl start iommud` or `iommud run`.\n"
            )
            throw ExitCode(3)
        case .failure(.permission(let p)):
            writeStderr("permission denied on \(p): `iommud status` needs root or membership in group adm.\n")
            throw ExitCode(77)
        case .failure(.protocolError(let m)):
            // Whatever answered wrote this: at most a few lines of it, nothing a terminal acts on.
            let shown = terminalSafe(String(m.prefix(2000))) + (m.count > 2000 ? "…" : "")
            writeStderr("iommud answered on \(target) but the reply was not understood: \(shown)\n")
            throw ExitCode(3)
        }
    }
}
