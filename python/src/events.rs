//! Status-change callbacks.
//!
//! The core calls each subscription's callback on a dedicated thread (never a
//! runtime thread); that thread takes the GIL for each event. An exception
//! raised by the callback is reported through `sys.unraisablehook` and later
//! events are still delivered. Events arriving while the interpreter shuts
//! down are dropped.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::error::check;
use crate::forge::PyDxForge;
use crate::status::ToolEvent;

#[pymethods]
impl PyDxForge {
    /// Calls `callback(event: ToolEvent)` for every status change until
    /// `unsubscribe(id)` or `close()`. Returns the subscription id.
    fn on_status_change(&self, py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<u64> {
        if !callback.is_callable() {
            let type_name = callback.get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "on_status_change: callback must be callable, not {type_name}"
            )));
        }
        let callback = callback.unbind();
        let id = self
            .core()?
            .on_status_change(move |event: &dxforge::ToolEvent| {
                let event = ToolEvent::from(event.clone());
                // `try_attach`: during interpreter shutdown the event is dropped.
                let _ = Python::try_attach(|py| {
                    let delivered = Py::new(py, event).and_then(|e| callback.call1(py, (e,)));
                    if let Err(err) = delivered {
                        err.write_unraisable(py, Some(callback.bind(py)));
                    }
                });
            });
        check(py, id).map(|id| id.0)
    }

    /// Cancels a subscription; no event arriving after this returns is
    /// delivered to it. Unknown ids are ignored.
    fn unsubscribe(&self, py: Python<'_>, subscription: u64) -> PyResult<()> {
        check(
            py,
            self.core()?
                .unsubscribe(dxforge::SubscriptionId(subscription)),
        )
    }
}
