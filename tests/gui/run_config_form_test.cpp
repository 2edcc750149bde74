// The run config form is built from the field table (training/config_fields.h): one editor per field, choices as
// combo boxes, and a config with every field at a non-default value reads back equal from the editors.
#include "tests/training/config_examples.h"
#include "app/gui/run_config_panel.h"
#include "training/config_fields.h"
#include "training/train_config.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>

#include <gtest/gtest.h>

#include <algorithm>

namespace dr2 {
namespace {

using nlohmann::json;

using test::everyFieldAtItsExample;
using test::pointerOf;

TEST(RunConfigForm, HasOneEditorPerDeclaredField)
{
    RunConfigPanel panel;
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        QWidget* editor = panel.editorFor(QString::fromStdString(field.key));
        ASSERT_NE(editor, nullptr);
        EXPECT_TRUE(editor->toolTip().contains(QString::fromStdString(field.help)));
        if (field.type == ConfigFieldType::Choice) {
            auto* combo = qobject_cast<QComboBox*>(editor);
            ASSERT_NE(combo, nullptr);
            QStringList items;
            for (int i = 0; i < combo->count(); ++i)
                items << combo->itemText(i);
            QStringList choices;
            for (const std::string& choice : field.choices())
                choices << QString::fromStdString(choice);
            EXPECT_EQ(items, choices);
        } else if (field.type == ConfigFieldType::Bool) {
            EXPECT_NE(qobject_cast<QCheckBox*>(editor), nullptr);
        } else {
            EXPECT_NE(qobject_cast<QLineEdit*>(editor), nullptr);
        }
    }
    // The clips dataset is offered (the form once listed only fashion-mnist and folder).
    auto* dataset = qobject_cast<QComboBox*>(panel.editorFor(QStringLiteral("data.dataset")));
    ASSERT_NE(dataset, nullptr);
    EXPECT_GE(dataset->findText(QStringLiteral("clips")), 0);
    // The defaults read back from the editors as TrainConfig's defaults.
    EXPECT_EQ(panel.formValues(), TrainConfig {}.toJson());
}

TEST(RunConfigForm, EveryFieldRoundTripsThroughTheEditors)
{
    const json input = everyFieldAtItsExample();
    RunConfigPanel panel;
    ASSERT_TRUE(panel.setConfigJson(QString::fromStdString(input.dump())));
    // The example config names files that do not exist: it parses, and only checkInputs complains.
    EXPECT_NO_THROW(TrainConfig::fromJson(input, TrainConfig::InputCheck::Skip));
    const json shown = panel.formValues();
    for (const ConfigField& field : configFields()) {
        SCOPED_TRACE(field.key);
        EXPECT_EQ(shown.at(pointerOf(field.key)), field.example);
    }
    EXPECT_EQ(shown, input);
    EXPECT_EQ(json::parse(panel.configJson().toStdString()), input);
}

TEST(RunConfigForm, EditingAnEditorEditsTheConfig)
{
    RunConfigPanel panel;
    auto* flip = qobject_cast<QCheckBox*>(panel.editorFor(QStringLiteral("data.flip")));
    ASSERT_NE(flip, nullptr);
    ASSERT_TRUE(flip->isChecked());
    flip->setChecked(false);
    EXPECT_EQ(json::parse(panel.configJson().toStdString()).at("data").at("flip"), false);

    auto* task = qobject_cast<QComboBox*>(panel.editorFor(QStringLiteral("task")));
    ASSERT_NE(task, nullptr);
    EXPECT_EQ(task->currentText(), QStringLiteral("classification"));

    auto* policy = qobject_cast<QComboBox*>(panel.editorFor(QStringLiteral("schedule.policy")));
    ASSERT_NE(policy, nullptr);
    policy->setCurrentText(QStringLiteral("logarithmic"));
    EXPECT_EQ(json::parse(panel.configJson().toStdString()).at("schedule").at("policy"), "logarithmic");
    EXPECT_TRUE(panel.isValid()) << panel.validationMessage().toStdString();
}

TEST(RunConfigForm, PlansEveryStrategysMemoryOnAWorkerAndMarksTheTableOutOfDate)
{
    RunConfigPanel panel;
    panel.setValue(QStringLiteral("model.depth"), 2);
    panel.setValue(QStringLiteral("model.image_size"), 28);
    panel.setValue(QStringLiteral("model.patch_size"), 7);
    panel.setValue(QStringLiteral("optim.batch_size"), 16);
    ASSERT_TRUE(panel.isValid()) << panel.validationMessage().toStdString();
    EXPECT_TRUE(panel.memoryPlanStatus().contains(QStringLiteral("none yet")));

    QSignalSpy planned(&panel, &RunConfigPanel::memoryPlanned);
    auto* button = panel.findChild<QPushButton*>(QStringLiteral("planMemory"));
    ASSERT_NE(button, nullptr);
    button->click();
    EXPECT_TRUE(panel.memoryPlanStatus().contains(QStringLiteral("planning")));
    ASSERT_TRUE(planned.wait(300000)) << "no plan within 5 minutes";
    ASSERT_TRUE(planned.first().first().toBool()) << panel.memoryPlanStatus().toStdString();

    QTableWidget* table = panel.memoryPlanTable();
    ASSERT_EQ(table->rowCount(), int(strategyNames().size()));
    for (int r = 0; r < table->rowCount(); ++r) {
        EXPECT_EQ(table->item(r, 0)->text().toStdString(), strategyNames()[size_t(r)]);
        EXPECT_EQ(table->item(r, 4)->text(), QStringLiteral("yes")) << "a 28² two-layer ViT fits any machine";
        EXPECT_GT(table->item(r, 5)->text().toLongLong(), 16);
    }
    EXPECT_TRUE(panel.memoryPlanStatus().contains(QStringLiteral("batch 16, image 28²")))
        << panel.memoryPlanStatus().toStdString();

    panel.setValue(QStringLiteral("optim.batch_size"), 32);
    EXPECT_TRUE(panel.memoryPlanStatus().contains(QStringLiteral("out of date"))) << panel.memoryPlanStatus().toStdString();

    // A config edited while its plan runs: the finished table is marked out of date at once.
    planned.clear();
    button->click();
    panel.setValue(QStringLiteral("optim.batch_size"), 8);
    ASSERT_TRUE(planned.wait(300000)) << "no plan within 5 minutes";
    EXPECT_TRUE(panel.memoryPlanStatus().contains(QStringLiteral("out of date"))) << panel.memoryPlanStatus().toStdString();
}

} // namespace
} // namespace dr2
