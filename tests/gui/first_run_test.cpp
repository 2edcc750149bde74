// The first run of a new user, offscreen: the default config finishes in minutes, the Checkpoint page's empty
// state offers the ways to get a checkpoint, and Start without one asks first (the answer injected).
#include "tests/gui/gui_test_support.h"

#include "app/gui/checkpoint_panel.h"
#include "app/gui/first_run.h"
#include "app/gui/live_page.h"
#include "app/gui/main_window.h"
#include "app/gui/run_config_panel.h"
#include "app/gui/training_session.h"
#include "training/train_config.h"
#include "widgets/branch_error_view.h"
#include "widgets/heatmap_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"

#include <QFile>
#include <QPushButton>
#include <QTabWidget>
#include <QTemporaryDir>

#include <gtest/gtest.h>

namespace dr2 {
namespace {

/// A shipped config file (comments allowed, as TrainConfig::load reads them).
nlohmann::json shippedConfig(const QString& name)
{
    // The fixtures live at <source>/tests/fixtures/checkpoints.
    QFile file(QStringLiteral(DR2_CHECKPOINT_FIXTURES "/../../../resources/configs/") + name);
    EXPECT_TRUE(file.open(QIODevice::ReadOnly)) << name.toStdString();
    return nlohmann::json::parse(file.readAll().toStdString(), nullptr, /*allow_exceptions=*/true,
        /*ignore_comments=*/true);
}

TEST(FirstRun, TheGuiBuildsTheShippedStarterConfigs)
{
    nlohmann::json finetune = firstrun::defaultFinetuneConfig();
    finetune["model"]["checkpoint"] = "starter-fmnist-0-4.safetensors";
    EXPECT_EQ(TrainConfig::fromJson(finetune).toJson(),
        TrainConfig::fromJson(shippedConfig(QStringLiteral("finetune-fmnist-starter-dr2net.json"))).toJson());
    const nlohmann::json pretrain = firstrun::starterPretrainConfig(QStringLiteral("starter-fmnist-0-4.safetensors"));
    EXPECT_EQ(TrainConfig::fromJson(pretrain).toJson(),
        TrainConfig::fromJson(shippedConfig(QStringLiteral("pretrain-fmnist-starter.json"))).toJson());
}

TEST(FirstRun, KnowsWhichConfigsStartWithoutThePretrainedNetworkTheyNeed)
{
    auto config = [](const std::string& strategy, const std::string& checkpoint, const std::string& output) {
        nlohmann::json json = firstrun::defaultFinetuneConfig();
        json["strategy"] = strategy;
        json["model"]["checkpoint"] = checkpoint;
        json["output"] = output;
        return QString::fromStdString(json.dump());
    };
    for (const char* strategy : { "dr2net", "vanilla", "hard-finetune", "frozen", "conventional", "checkpointed" })
        EXPECT_TRUE(firstrun::startsWithoutPretrained(config(strategy, "", ""))) << strategy;
    EXPECT_FALSE(firstrun::startsWithoutPretrained(config("dr2net", "ckpt.safetensors", "")));
    EXPECT_FALSE(firstrun::startsWithoutPretrained(config("reversible-scratch", "", "")));
    EXPECT_FALSE(firstrun::startsWithoutPretrained(config("conventional", "", "out.safetensors"))); // a pretraining
    EXPECT_FALSE(firstrun::startsWithoutPretrained(QStringLiteral("not json")));
}

TEST(FirstRun, DefaultConfigIsShortAndStartWithoutCheckpointAsksFirst)
{
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.sqlite")));
    window.resize(1400, 900);
    window.show();
    RunConfigPanel* config = window.configPanel();
    ASSERT_TRUE(config->isValid()) << config->validationMessage().toStdString();
    // Minutes, not the 937 iterations of ViT-Ti at 56² on 60,000 images the bare defaults train.
    EXPECT_EQ(config->expectedIterations(), 62);
    EXPECT_TRUE(config->configJson().contains(QStringLiteral("\"dr2net\"")));

    CheckpointPanel* checkpoint = window.checkpointPanel();
    EXPECT_TRUE(checkpoint->showsEmptyState());
    EXPECT_TRUE(checkpoint->starterButton()->isEnabled());

    // Declining keeps the run from starting and shows the Checkpoint page.
    QStringList asked;
    window.setConfirmFunction([&asked](const QString& title, const QString&) {
        asked << title;
        return false;
    });
    window.tabs()->setCurrentWidget(window.configPanel());
    QString error;
    EXPECT_FALSE(window.requestStart(&error));
    EXPECT_EQ(asked.size(), 1);
    EXPECT_FALSE(window.session()->isRunning());
    EXPECT_EQ(window.tabs()->currentWidget(), checkpoint);
    EXPECT_TRUE(error.contains(QStringLiteral("pretrained"))) << error.toStdString();
    test::saveScreenshot(&window, QStringLiteral("gui_first_run_checkpoint"));

    // The live plots say what is missing instead of drawing empty axes.
    LivePage* live = window.livePage();
    for (PlotView* plot : live->plots())
        EXPECT_TRUE(plot->showsEmptyText()) << plot->emptyText().toStdString();
    EXPECT_TRUE(live->heatmapView()->emptyText().startsWith(QStringLiteral("no sweep yet")));
}

} // namespace
} // namespace dr2
