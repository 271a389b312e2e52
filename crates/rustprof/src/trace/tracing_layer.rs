//! The `tracing` crate's spans and events in execution traces (feature
//! `tracing`): [`TracingLayer`], a `tracing_subscriber::Layer`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::Ordering;

use rustprof_trace::ArgValue;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::RawKind;

/// A `tracing_subscriber::Layer` recording, while a [`super::start`]ed trace
/// runs:
///
/// - each time a span is **entered**, a region (category `region`, the span's
///   name) on the current thread until it is exited, with the span's fields
///   as arguments. An async span (`.instrument(span)`) is entered for each
///   poll, so its regions are its polls and the gaps between them are its
///   waits;
/// - each **event** as a log (an instant named by its message, category its
///   target), with its other fields and its `level` as arguments.
///
/// Spans created before the trace started have no fields in it. With no
/// trace running, an enter or exit costs one thread-local access.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(rustprof::trace::TracingLayer::new());
/// tracing::subscriber::set_global_default(subscriber).unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

impl TracingLayer {
    /// The layer.
    pub fn new() -> Self {
        TracingLayer { _private: () }
    }
}

/// A span's fields, kept in its extensions.
struct Fields(Vec<(&'static str, ArgValue)>);

struct Visitor<'a> {
    fields: &'a mut Vec<(&'static str, ArgValue)>,
    message: Option<&'a mut Option<String>>,
}

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, ArgValue::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, ArgValue::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, ArgValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, ArgValue::Uint(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, ArgValue::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, ArgValue::Double(value));
    }
}

impl Visitor<'_> {
    fn put(&mut self, field: &Field, value: ArgValue) {
        if field.name() == "message"
            && let Some(m) = self.message.as_deref_mut()
        {
            *m = Some(match value {
                ArgValue::Str(s) => s,
                v => format!("{v:?}"),
            });
            return;
        }
        match self.fields.iter_mut().find(|(n, _)| *n == field.name()) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field.name(), value)),
        }
    }
}

thread_local! {
    /// Per entered span on this thread: the trace generation that saw its
    /// region begin (0: none), so that each exit ends only what was begun.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !super::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Vec::new();
        attrs.record(&mut Visitor { fields: &mut fields, message: None });
        span.extensions_mut().insert(Fields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !super::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        match ext.get_mut::<Fields>() {
            Some(f) => values.record(&mut Visitor { fields: &mut f.0, message: None }),
            None => {
                let mut fields = Vec::new();
                values.record(&mut Visitor { fields: &mut fields, message: None });
                ext.insert(Fields(fields));
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let mut generation = 0;
        if super::is_enabled()
            && let Some(span) = ctx.span(id)
        {
            let args = span.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
            super::record_with_args(
                RawKind::Begin,
                Cow::Borrowed(span.name()),
                Cow::Borrowed(rustprof_trace::vocab::REGION),
                args,
            );
            generation = super::GENERATION.load(Ordering::Relaxed);
        }
        let _ = ENTERED.try_with(|e| e.borrow_mut().push(generation));
    }

    fn on_exit(&self, _id: &Id, _ctx: Context<'_, S>) {
        let generation = ENTERED.try_with(|e| e.borrow_mut().pop()).ok().flatten().unwrap_or(0);
        if generation != 0 && generation == super::GENERATION.load(Ordering::Relaxed) {
            super::record_with_args(RawKind::End, Cow::Borrowed(""), Cow::Borrowed(""), Vec::new());
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !super::is_enabled() {
            return;
        }
        let meta = event.metadata();
        let mut fields = Vec::new();
        let mut message = None;
        event.record(&mut Visitor { fields: &mut fields, message: Some(&mut message) });
        fields.push(("level", ArgValue::Str(meta.level().as_str().to_owned())));
        let name = message.map(Cow::Owned).unwrap_or(Cow::Borrowed(meta.name()));
        super::record_with_args(RawKind::Log, name, Cow::Borrowed(meta.target()), fields);
    }
}
