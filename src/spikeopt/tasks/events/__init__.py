"""Event-camera data: one event format, N-MNIST / DVS Gesture readers, binning, a built-in data set.

* `format`: the event array (structured dtype ``x, y, p, t``) and `EventSamples` (labelled samples);
* `readers`: N-MNIST ``.bin`` and DVS Gesture ``.npy`` readers and writers, Tonic interop;
* `binning`: events -> time-major count frames ``[T, 2, H, W]``, downsampling, denoising;
* `simulate`: the built-in N-MNIST-style data set simulated from scikit-learn's digits (cached);
* `tasks`: the ``event-digits``, ``nmnist`` and ``dvs-gesture`` tasks (imported lazily by the registry).
"""

from spikeopt.tasks.events.binning import (
    denoise,
    denoise_samples,
    downsample_frames,
    downsampled_size,
    flatten,
    sample_spans,
    samples_to_frames,
    to_frames,
)
from spikeopt.tasks.events.format import (
    EVENT_DTYPE,
    EventSamples,
    as_events,
    concat_events,
    empty_events,
    make_events,
    sort_events,
    validate_events,
)
from spikeopt.tasks.events.readers import (
    DVS_GESTURE_CLASSES,
    DVS_GESTURE_SENSOR,
    NMNIST_CLASSES,
    NMNIST_OVERFLOW_INCREMENT,
    NMNIST_SENSOR,
    decode_nmnist,
    dvs_gesture_index,
    encode_nmnist,
    from_tonic,
    load_dvs_gesture,
    load_nmnist,
    nmnist_index,
    read_dvs_npy,
    read_nmnist_bin,
    samples_from_tonic,
    write_dvs_npy,
    write_nmnist_bin,
)
from spikeopt.tasks.events.simulate import (
    EventDigitsConfig,
    build_event_digits,
    cache_path,
    default_cache_dir,
    digit_images,
    load_event_digits,
    simulate_events,
)

__all__ = [
    "DVS_GESTURE_CLASSES",
    "DVS_GESTURE_SENSOR",
    "EVENT_DTYPE",
    "EventDigitsConfig",
    "EventSamples",
    "NMNIST_CLASSES",
    "NMNIST_OVERFLOW_INCREMENT",
    "NMNIST_SENSOR",
    "as_events",
    "build_event_digits",
    "cache_path",
    "concat_events",
    "decode_nmnist",
    "default_cache_dir",
    "denoise",
    "denoise_samples",
    "digit_images",
    "downsample_frames",
    "downsampled_size",
    "dvs_gesture_index",
    "empty_events",
    "encode_nmnist",
    "flatten",
    "from_tonic",
    "load_dvs_gesture",
    "load_event_digits",
    "load_nmnist",
    "make_events",
    "nmnist_index",
    "read_dvs_npy",
    "read_nmnist_bin",
    "sample_spans",
    "samples_from_tonic",
    "samples_to_frames",
    "simulate_events",
    "sort_events",
    "to_frames",
    "validate_events",
    "write_dvs_npy",
    "write_nmnist_bin",
]
