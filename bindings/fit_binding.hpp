#pragma once
// What every model's fit() binding shares: the options dict -> TrainConfig,
// history rows, and the training run with progress callbacks and Ctrl-C.
#include <pybind11/pybind11.h>

#include "interrupt_hook.hpp"
#include "model_lock.hpp"
#include "train/trainer.hpp"

namespace lmn::py_fit {

namespace py = pybind11;

template <typename T>
T get_or(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return d[key].cast<T>();
}

inline TrainConfig train_config(const py::dict& d) {
  TrainConfig c;
  c.epochs = get_or(d, "epochs", c.epochs);
  c.batch_size = get_or(d, "batch_size", c.batch_size);
  c.seq_len = get_or(d, "seq_len", c.seq_len);
  c.truncate = get_or(d, "truncate", 0);
  c.optimizer.kind = parse_optimizer(get_or<std::string>(d, "optimizer", "adam"));
  c.optimizer.lr = get_or(d, "lr", c.optimizer.lr);
  c.optimizer.momentum = get_or(d, "momentum", c.optimizer.momentum);
  c.optimizer.weight_decay = get_or(d, "weight_decay", c.optimizer.weight_decay);
  c.clip_norm = get_or(d, "clip_norm", 0.0f);
  c.clip_value = get_or(d, "clip_value", 0.0f);
  c.lr_step_epochs = get_or(d, "lr_step_epochs", 0);
  c.lr_gamma = get_or(d, "lr_gamma", c.lr_gamma);
  c.patience = get_or(d, "patience", 0);
  c.restore_best = get_or(d, "restore_best", c.restore_best);
  c.seed = get_or<std::uint64_t>(d, "seed", 0);
  c.fused = get_or(d, "fused", true);
  c.tune_threads = get_or(d, "tune_threads", true);
  return c;
}

inline py::dict epoch_row(const EpochStats& e) {
  py::dict row;
  row["epoch"] = e.epoch;
  row["train_loss"] = e.train_loss;
  row["val_loss"] = e.val_loss;
  row["val_accuracy"] = e.val_accuracy;
  row["tokens_per_sec"] = e.tokens_per_sec;
  row["seconds"] = e.seconds;
  row["lr"] = e.lr;
  return row;
}

// Where the epoch training stopped inside stands, (batches done, time
// steps done of the next batch), else None (the caller holds the model's lock).
template <class Holder>
py::object epoch_position(const Holder& self) {
  const auto& position = self.training.position;
  return position ? py::object(py::make_tuple(position->batch, position->step)) : py::object(py::none());
}

// A Python callback's verdict: None or truthy continues, falsy stops.
inline bool keep_going(const py::object& verdict) { return verdict.is_none() || verdict.cast<bool>(); }

// Runs `train(config, callbacks)` (the core's fit, with the GIL released)
// holding the model alone; progress and Ctrl-C are checked between batches.
template <class Holder, class Train>
py::dict fit_with_callbacks(Holder& self, const py::dict& options, const py::object& on_batch,
                            const py::object& on_epoch, Train&& train) {
  const TrainConfig config = train_config(options);
  const py_lock::WriteLock lock(self);
  bool keyboard_interrupt = false;
  FitCallbacks callbacks;
  // Ctrl-C pressed while a callback's Python runs (drawing the progress
  // bar) raises KeyboardInterrupt there: it stops as cleanly as between batches.
  const auto ask = [&](auto&& call) {
    try {
      return call();
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_KeyboardInterrupt)) throw;
      keyboard_interrupt = true;
      return false;
    }
  };
  callbacks.on_batch = [&](const BatchProgress& p) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) throw py::error_already_set();
      PyErr_Clear();  // Ctrl-C: stop cleanly between batches
      keyboard_interrupt = true;
      return false;
    }
    return ask([&] {
      return on_batch.is_none() || keep_going(on_batch(p.epoch, p.batch, p.batches, p.loss, p.tokens_per_sec));
    });
  };
  callbacks.on_epoch = [&](const EpochStats& e) {
    py::gil_scoped_acquire acquire;
    return ask([&] { return on_epoch.is_none() || keep_going(on_epoch(epoch_row(e))); });
  };
  FitResult result;
  {
    py::gil_scoped_release release;
    result = train(config, callbacks);
  }
  if (result.interrupt_requested) {
    // Ctrl-C inside a step: fit stops cleanly, as between batches. Another
    // error a signal handler raised (SystemExit from a SIGTERM handler) is raised.
    if (!lmn::py_interrupt::pending_is_keyboard_interrupt()) {
      lmn::py_interrupt::raise_pending();
      throw py::error_already_set();
    }
    lmn::py_interrupt::discard_pending();
    keyboard_interrupt = true;
  }
  py::list history;
  for (const auto& e : result.history) history.append(epoch_row(e));
  py::dict out;
  out["history"] = history;
  out["interrupted"] = result.interrupted;
  out["keyboard_interrupt"] = keyboard_interrupt;
  out["stopped_early"] = result.stopped_early;
  out["best_epoch"] = result.best_epoch;
  out["best_val_loss"] = result.best_val_loss;
  out["first_loss"] = result.first_loss ? py::object(py::float_(*result.first_loss)) : py::object(py::none());
  out["batches"] = result.batches;
  out["epoch_position"] = epoch_position(self);
  out["restarted_epoch"] = result.restarted_epoch;
  out["restarted_after_batches"] = result.restarted_after_batches;
  out["restored_best"] = result.restored_best;
  return out;
}

}  // namespace lmn::py_fit
