#pragma once
// The block families as QtTest data rows; the families themselves are in familymodels.h.

#include <QString>
#include <QTest>

#include "model/familymodels.h"

namespace corolla::testing {

// QTest data: one row per entry of kFamilies, in the column "family".
inline void addFamilyRows()
{
    QTest::addColumn<QString>("family");
    for (const char *family : kFamilies)
        QTest::newRow(family) << QString::fromLatin1(family);
}

// A family of kFamilies by name.
inline Family familyByName(const QString &name, std::uint64_t seed)
{
    return familyByName(name.toStdString(), seed);
}

} // namespace corolla::testing
