// CustomJS of the exported Embeddings tab's widgets and plot: hands the event to the page's explorer
// (runtime.js), made once per figure from the same arguments.
// args: a (the explorer's models and data), action ("switch", "hover", "select", "clear", "filter", "schedule")
window.aereport.explorer(a).on(action, cb_obj);
