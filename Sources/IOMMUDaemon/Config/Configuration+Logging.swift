import Logging

extension Configuration {
    /// `[log] level` as swift-log's level. (The rest of the config layer does without swift-log,
    /// so the fuzz targets build it from source alone.)
    public var logLevel: Logger.Level {
        get {
            switch logLevelSetting {
            case .trace: return .trace
            case .debug: return .debug
            case .info: return .info
            case .notice: return .notice
            case .warning: return .warning
            case .error: return .error
            case .critical: return .critical
            }
        }
        set {
            switch newValue {
            case .trace: logLevelSetting = .trace
            case .debug: logLevelSetting = .debug
            case .info: logLevelSetting = .info
            case .notice: logLevelSetting = .notice
            case .warning: logLevelSetting = .warning
            case .error: logLevelSetting = .error
            case .critical: logLevelSetting = .critical
            }
        }
    }
}
