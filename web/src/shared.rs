//! A plain-Rust model as `use_reducer` state. The models here are too big to copy on every change (a
//! simulator, a 10,000-lease table), so the reducer mutates the one model in place and bumps a version,
//! which is what tells yew, and `PartialEq` on props, that something changed.

use std::cell::{Ref, RefCell};
use std::rc::Rc;
use yew::prelude::*;

/// A model that changes only through its actions.
pub trait Model: 'static {
    type Action;
    fn update(&mut self, action: Self::Action);
}

pub struct Shared<M> {
    model: Rc<RefCell<M>>,
    version: u64,
}

impl<M> Shared<M> {
    pub fn new(model: M) -> Self {
        Shared { model: Rc::new(RefCell::new(model)), version: 0 }
    }

    /// The model as it is now. Views read it; only actions change it.
    pub fn get(&self) -> Ref<'_, M> {
        self.model.borrow()
    }

    /// How many actions the model has taken: an effect that depends on it runs after each.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl<M: Default> Default for Shared<M> {
    fn default() -> Self {
        Shared::new(M::default())
    }
}

impl<M> PartialEq for Shared<M> {
    fn eq(&self, o: &Self) -> bool {
        Rc::ptr_eq(&self.model, &o.model) && self.version == o.version
    }
}

impl<M: Model> Reducible for Shared<M> {
    type Action = M::Action;

    fn reduce(self: Rc<Self>, action: M::Action) -> Rc<Self> {
        self.model.borrow_mut().update(action);
        Rc::new(Shared { model: self.model.clone(), version: self.version + 1 })
    }
}
