#pragma once
// Decides whether this computer serves right now: the "Donate my GPU" switch, a pause for
// an hour, and the volunteer's policies (only on mains power, only when idle), checked
// every few seconds. The main window's switch and the tray menu both drive it.
// Thread: the GUI thread.

#include <memory>

#include <QDateTime>
#include <QObject>
#include <QTimer>

namespace corolla {

class Engine;
class Settings;
class SystemConditions;

class DonationController : public QObject {
    Q_OBJECT
public:
    enum class Reason { Serving, SwitchedOff, Paused, OnBattery, Busy };

    DonationController(Engine &engine, Settings &settings,
                       std::unique_ptr<SystemConditions> conditions, QObject *parent = nullptr);
    ~DonationController() override;

    // The switch; remembered across restarts.
    void setWanted(bool wanted);
    bool isWanted() const;
    void pauseFor(int seconds);
    void resume();
    bool isPaused() const { return m_pausedUntil.isValid(); }
    QDateTime pausedUntil() const { return m_pausedUntil; }

    bool isServing() const { return m_serving; }
    Reason reason() const { return m_reason; }

    // Checks the policies now and starts or stops serving to match.
    void reevaluate();
    // The serving settings changed: serve again with them, if serving.
    void restartServing();

Q_SIGNALS:
    void changed();

private:
    Engine &m_engine;
    Settings &m_settings;
    std::unique_ptr<SystemConditions> m_conditions;
    QDateTime m_pausedUntil;
    bool m_serving = false;
    Reason m_reason = Reason::SwitchedOff;
    QTimer m_timer;
};

} // namespace corolla
