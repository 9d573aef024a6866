#include "ui/donationcontroller.h"

#include "facade/engine.h"
#include "ui/settings.h"
#include "ui/systemconditions.h"

namespace corolla {

namespace {

constexpr int kCheckPeriodMs = 15000;

} // namespace

DonationController::DonationController(Engine &engine, Settings &settings,
                                       std::unique_ptr<SystemConditions> conditions,
                                       QObject *parent)
    : QObject(parent)
    , m_engine(engine)
    , m_settings(settings)
    , m_conditions(std::move(conditions))
    , m_timer(this)
{
    m_timer.setInterval(kCheckPeriodMs);
    connect(&m_timer, &QTimer::timeout, this, &DonationController::reevaluate);
    m_timer.start();
    reevaluate(); // the switch is remembered: serve from the start if it was on
}

DonationController::~DonationController() = default;

bool DonationController::isWanted() const
{
    return m_settings.donate;
}

void DonationController::setWanted(bool wanted)
{
    m_settings.donate = wanted;
    if (wanted)
        m_pausedUntil = {};
    reevaluate();
}

void DonationController::pauseFor(int seconds)
{
    m_pausedUntil = QDateTime::currentDateTimeUtc().addSecs(seconds);
    reevaluate();
}

void DonationController::resume()
{
    m_pausedUntil = {};
    reevaluate();
}

void DonationController::reevaluate()
{
    if (m_pausedUntil.isValid() && QDateTime::currentDateTimeUtc() >= m_pausedUntil)
        m_pausedUntil = {};
    Reason reason = Reason::Serving;
    if (!m_settings.donate)
        reason = Reason::SwitchedOff;
    else if (m_pausedUntil.isValid())
        reason = Reason::Paused;
    else if (m_settings.onlyOnMainsPower && m_conditions->onMainsPower() == false)
        reason = Reason::OnBattery;
    else if (m_settings.onlyWhenIdle && !m_conditions->isIdle())
        reason = Reason::Busy;
    const bool serve = reason == Reason::Serving;
    const bool changedState = serve != m_serving || reason != m_reason;
    m_reason = reason;
    if (serve != m_serving) {
        m_serving = serve;
        if (serve)
            m_engine.startDonating(m_settings.donateSettings());
        else
            m_engine.stopDonating();
    }
    if (changedState)
        Q_EMIT changed();
}

void DonationController::restartServing()
{
    if (m_serving)
        m_engine.startDonating(m_settings.donateSettings());
}

} // namespace corolla
