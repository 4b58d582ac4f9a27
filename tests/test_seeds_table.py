"""The short items of the seeds' reproduction table (jitprop/seeds.py) give
exactly what the seeds printed."""
import pytest

from jitprop import seeds

EXPECTED = {
    "dense_forward example": "[5, -1, 9]",
    "ReLU example": "[[1.0, 0.0], [0.3, 0.1]]",
    "hinge_forward example": "0.875",
    "L2 regulariser example": "108.25",
    "vectorize(j)": "[[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]",
    "untrained forward pass, seeded init, raw test images": "9.94%, average loss 2.36",
}


@pytest.mark.parametrize("item", [i for i in seeds.ITEMS if not i.long], ids=lambda i: i.what)
def test_short_items_reproduce_the_seeds(item, mnist):
    assert item.compute() == EXPECTED[item.what]


def test_the_table_lists_every_item_and_its_notes():
    results = [(item, "x") for item in seeds.ITEMS]
    text = seeds.markdown(results)
    for item in seeds.ITEMS:
        assert item.printed in text and item.how in text
    assert text.count("[") >= sum(1 for i in seeds.ITEMS if i.note)
