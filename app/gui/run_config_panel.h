#pragma once

#include <QString>
#include <QVector>
#include <QWidget>

#include "training/config_fields.h"

#include <nlohmann/json.hpp>

class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace dr2 {

class CoefficientView;
struct MemoryPlanSummary;
struct StepTimeEstimate;

/// The run configuration form: edits the same JSON config as `dr2net-cli train --config`, one editor per field of
/// configFields() (grouped as declared; choices as combo boxes, help as tool tips). Every edit is validated with
/// TrainConfig::fromJson; the message names the field and the offending input is marked. A CoefficientView
/// previews the α/β schedule before the run starts. Keys the form does not show are kept as loaded.
class RunConfigPanel : public QWidget {
    Q_OBJECT
public:
    /// Creates the form with the default config.
    explicit RunConfigPanel(QWidget* parent = nullptr);

    /// The config as JSON text (what start() and "Save config" use).
    QString configJson() const;
    /// Replaces the config; false with the parse error in `error` when `json` is not a JSON object.
    /// A config that parses but does not validate is loaded and its message shown.
    bool setConfigJson(const QString& json, QString* error = nullptr);
    /// Sets one value by its dotted key ("model.image_size") as the form would, then revalidates.
    void setValue(const QString& key, const nlohmann::json& value);
    /// Reads a config file (JSON); false with a message naming the file on failure.
    bool loadFile(const QString& path, QString* error = nullptr);
    /// Writes the config atomically; false with a message naming the file on failure.
    bool saveFile(const QString& path, QString* error = nullptr) const;

    /// True when the current config validates.
    bool isValid() const { return m_valid; }
    /// The validation message (empty when valid).
    QString validationMessage() const { return m_message; }
    /// The dotted key the validation message names (empty when valid or unknown).
    QString invalidField() const { return m_invalidField; }
    /// The α/β preview.
    CoefficientView* schedulePreview() const { return m_preview; }
    /// The editor of a dotted key, or null (a QLineEdit, a QComboBox for a choice, a QCheckBox for a bool).
    QWidget* editorFor(const QString& key) const;
    /// What the editors show, read back as the config JSON (keys the form does not show come from the config).
    nlohmann::json formValues() const;
    /// The memory plan table (one row per strategy: held, step peak, total, fits, largest batch and image).
    QTableWidget* memoryPlanTable() const { return m_planTable; }
    /// The line above it: what the plan is for, "planning…", "out of date", or the planner's error.
    QString memoryPlanStatus() const;
    /// The expected-time line: "none yet", "measuring…", the estimate from one measured step, or the error.
    QString expectedTimeStatus() const;
    /// Iterations a run of the current config will train (from data.train_limit or the dataset's size, batch,
    /// accumulation and epochs; Fashion-MNIST's 6000 images per class when there is no limit).
    qint64 expectedIterations() const;

public slots:
    /// Asks for a file and loads it.
    void loadWithDialog();
    /// Asks for a file name and saves the config.
    void saveWithDialog();
    /// Plans the step memory of every strategy for the current config on a worker (`dr2net-cli plan`); the table
    /// fills when it is done. A newer request supersedes a running one's result.
    void planMemory();
    /// Times training steps of the current config on a worker (measureConfigStep) and shows the expected run
    /// time; a newer request supersedes a running one's result.
    void estimateTime();

signals:
    /// The config changed; `valid` says whether it validates.
    void configChanged(bool valid);
    /// A memory plan finished (successfully or with an error in memoryPlanStatus()).
    void memoryPlanned(bool ok);
    /// A time estimate finished (successfully or with an error in expectedTimeStatus()).
    void timeEstimated(bool ok);

private:
    struct Field {
        QString key;
        ConfigFieldType type;
        QWidget* editor;
    };
    QWidget* addField(QFormLayout* form, const ConfigField& declaration);
    nlohmann::json editorValue(const Field& field) const;
    void fillFromJson();
    void onEdited(const Field& field);
    void revalidate();
    void updatePreview(const nlohmann::json& parsed);
    void showMemoryPlan(const MemoryPlanSummary& plan);
    void showTimeEstimate(const StepTimeEstimate& estimate, qint64 iterations);

    nlohmann::json m_json;
    QVector<Field> m_fields;
    bool m_filling = false;
    bool m_valid = false;
    QString m_message;
    QString m_invalidField;
    QLabel* m_messageLabel = nullptr;
    CoefficientView* m_preview = nullptr;
    QPushButton* m_planButton = nullptr;
    QLabel* m_planLabel = nullptr;
    QTableWidget* m_planTable = nullptr;
    QPushButton* m_timeButton = nullptr;
    QLabel* m_timeLabel = nullptr;
    quint64 m_timeGeneration = 0; ///< of the latest time estimate; older results are dropped
    QString m_timedJson; ///< the config the expected time is for (empty: none)
    quint64 m_planGeneration = 0; ///< of the latest request; older results are dropped
    QString m_plannedJson; ///< the config the table shows (empty: none)
};

} // namespace dr2
