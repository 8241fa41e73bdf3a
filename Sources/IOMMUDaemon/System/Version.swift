/// The daemon's version and the compiler it was built with (`iommud_build_info`).
public enum BuildInfo {
    public static let version = "0.1.0"

    public static var swift: String {
        #if compiler(>=6.4)
            return "6.4"
        #elseif compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #else
            return "6.1"
        #endif
    }
}
